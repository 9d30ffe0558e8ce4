import { describe, expect, it } from "vitest";
import { parsePinnedKeys, pinnedKeysText } from "../../../update/pinned-keys.ts";

describe("the update keys an image pins", () => {
  const keys = { ed25519: new Uint8Array(32).fill(0xab), mldsa65: new Uint8Array(1952).fill(9) };

  it("reads back what the build writes", () => {
    expect(parsePinnedKeys(pinnedKeysText(keys))).toEqual({ ok: true, keys });
  });

  it("says which key is wrong, and takes nothing else", () => {
    const text = (value: object) => JSON.stringify(value);
    const good = JSON.parse(pinnedKeysText(keys)) as { ed25519: string; mldsa65: string };
    expect(parsePinnedKeys("{")).toEqual({ ok: false, reason: "not JSON" });
    expect(parsePinnedKeys(text({ ...good, ed25519: good.ed25519.slice(2) }))).toEqual({
      ok: false,
      reason: "ed25519: must be 32 bytes in hex",
    });
    expect(parsePinnedKeys(text({ ed25519: good.ed25519 }))).toMatchObject({ ok: false, reason: /^mldsa65: / });
    expect(parsePinnedKeys(text({ ...good, rsa: "00" }))).toMatchObject({ ok: false });
    expect(parsePinnedKeys(text({ ...good, ed25519: good.ed25519.toUpperCase() }))).toMatchObject({ ok: false });
  });
});
