import { describe, expect, it } from "vitest";
import { cryptVolumeKey, recoverySlots } from "../../../vault/rekey-parse.ts";

describe("cryptVolumeKey", () => {
  it("reads the hex key of a dm-crypt table line", () => {
    const key = "00112233445566778899aabbccddeeff".repeat(4);
    expect(cryptVolumeKey(`aes-xts-plain64 ${key} 0 254:2 32768 1 allow_discards`)).toEqual(Buffer.from(key, "hex"));
  });
  it("refuses a key kept in the keyring, a masked one, or none", () => {
    expect(cryptVolumeKey("aes-xts-plain64 :64:logon:cryptsetup:abc-d0 0 254:2 32768")).toBe(
      "the volume key is in the kernel's keyring",
    );
    expect(cryptVolumeKey("aes-xts-plain64 - 0 254:2 32768")).toBe("the device-mapper table holds no volume key");
    expect(cryptVolumeKey("")).toBe("the device-mapper table holds no volume key");
  });
});

describe("recoverySlots", () => {
  it("names the keyslots of every systemd-recovery token, not the TPM's", () => {
    const json = JSON.stringify({
      keyslots: { "0": {}, "1": {}, "3": {} },
      tokens: {
        "0": { type: "systemd-recovery", keyslots: ["1"] },
        "1": { type: "systemd-tpm2", keyslots: ["0"] },
        "2": { type: "systemd-recovery", keyslots: ["3"] },
      },
    });
    expect(recoverySlots(json)).toEqual(["1", "3"]);
  });
  it("refuses metadata that is not cryptsetup's", () => {
    expect(() => recoverySlots("{}")).toThrow(/LUKS2 metadata/);
    expect(() => recoverySlots("not json")).toThrow(/LUKS2 metadata/);
  });
});
