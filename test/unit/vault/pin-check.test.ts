import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GET_DA_PROPERTIES, parseLockout } from "../../../vault/lockout.ts";
import {
  checkCommand,
  defineCommand,
  parsePinCheck,
  readPublicCommand,
  undefineCommand,
  writeCommand,
} from "../../../vault/pin-check.ts";
import { startSocketTpm, type SocketTpm } from "../../qemu/swtpm.ts";

describe("the TPM's check of the PIN, against swtpm", () => {
  let tpm: SocketTpm;
  const failures = async (): Promise<number> => parseLockout(await tpm.send(GET_DA_PROPERTIES))?.failures ?? -1;
  beforeAll(async () => {
    tpm = await startSocketTpm();
  });
  afterAll(() => tpm?.stop());

  it("is absent until defined; then the right PIN passes and costs nothing, a wrong one fails and costs a dictionary-attack try", async () => {
    expect(parsePinCheck(await tpm.send(readPublicCommand()))).toBe("absent");
    expect(parsePinCheck(await tpm.send(checkCommand("kestrel42")))).toBe("absent");
    expect(parsePinCheck(await tpm.send(defineCommand("kestrel42")))).toBe("ok");
    expect(parsePinCheck(await tpm.send(readPublicCommand()))).toBe("ok");
    expect(parsePinCheck(await tpm.send(writeCommand("kestrel42")))).toBe("ok");
    const before = await failures();
    expect(parsePinCheck(await tpm.send(checkCommand("kestrel42")))).toBe("ok");
    expect(await failures()).toBe(before);
    expect(parsePinCheck(await tpm.send(checkCommand("kestrel43")))).toBe("wrong");
    expect(await failures()).toBe(before + 1);
  });

  it("is replaced for a new PIN: the old one no longer passes", async () => {
    expect(parsePinCheck(await tpm.send(undefineCommand()))).toBe("ok");
    expect(parsePinCheck(await tpm.send(defineCommand("osprey993")))).toBe("ok");
    expect(parsePinCheck(await tpm.send(writeCommand("osprey993")))).toBe("ok");
    expect(parsePinCheck(await tpm.send(checkCommand("osprey993")))).toBe("ok");
    expect(parsePinCheck(await tpm.send(checkCommand("kestrel42")))).toBe("wrong");
  });

  it("says lockout once the tries are spent, and then refuses even the right PIN", async () => {
    for (let i = 0; i < 10 && parseLockout(await tpm.send(GET_DA_PROPERTIES))?.inLockout !== true; i++)
      await tpm.send(checkCommand("wrong-pin"));
    expect(parsePinCheck(await tpm.send(checkCommand("osprey993")))).toBe("lockout");
  });
});

describe("parsePinCheck", () => {
  it("says why in a reply it does not know", () => {
    expect(parsePinCheck(null)).toEqual({ error: "the TPM did not answer" });
    expect(parsePinCheck(Uint8Array.from([0x80, 0x01, 0, 0, 0, 10, 0, 0, 0x01, 0x01]))).toEqual({
      error: "the TPM answered rc 0x101",
    });
  });
});
