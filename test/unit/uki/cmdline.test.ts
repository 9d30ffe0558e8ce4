import { describe, expect, it } from "vitest";
import { systemPartUuid, systemPin } from "../../../uki/cmdline.ts";

const ROOT_HASH = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

describe("the system image's pin", () => {
  it("names the slot's partition by the root hash's first 128 bits, made a version-4 UUID", () => {
    expect(systemPartUuid(ROOT_HASH)).toBe("01234567-89ab-4def-8123-456789abcdef");
    expect(systemPartUuid(ROOT_HASH.toUpperCase())).toBe(systemPartUuid(ROOT_HASH));
  });

  it("says PARTUUID, data blocks, root hash and salt, as preinit reads them", () => {
    const verity = { root_hash: ROOT_HASH, salt: "f".repeat(64), hash_offset: 53 * 4096 };
    expect(systemPin(verity)).toBe(
      `anchor.system=01234567-89ab-4def-8123-456789abcdef,53,${ROOT_HASH},${"f".repeat(64)}`,
    );
    expect(systemPin(verity, "11111111-2222-4333-8444-555555555555")).toMatch(
      /^anchor\.system=11111111-2222-4333-8444-555555555555,53,/,
    );
  });
});
