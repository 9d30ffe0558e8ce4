import { describe, expect, it } from "vitest";
import { LABEL, vaultState } from "../../../vault/header.ts";

const HEADER_BYTES = 4096;

/** A LUKS binary header's first fields: magic, version, sizes, then the 48-byte label at offset 24. */
function header(version: number, label: string): Uint8Array {
  const bytes = new Uint8Array(HEADER_BYTES);
  bytes.set([0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe, 0, version]);
  bytes.set(new TextEncoder().encode(label), 24);
  return bytes;
}

describe("vaultState", () => {
  it("calls a partition blank only when it is provably empty: all zeros", () => {
    expect(vaultState(new Uint8Array(HEADER_BYTES))).toBe("blank");
    expect(vaultState(new Uint8Array(0))).toBe("blank");
    const data = new Uint8Array(1 << 20);
    data[700_000] = 1;
    expect(vaultState(data)).toBe("foreign");
  });

  it("finds a vault whose primary header was destroyed by its second header, and never calls it blank", () => {
    const bytes = new Uint8Array(1 << 20);
    for (const at of [0x4000, 0x8000, 0x40000]) {
      bytes.fill(0);
      bytes.set([0x53, 0x4b, 0x55, 0x4c, 0xba, 0xbe, 0, 2], at);
      bytes.set(new TextEncoder().encode(LABEL.vault), at + 24);
      expect(vaultState(bytes)).toBe("damaged");
      bytes.set(new TextEncoder().encode(`${LABEL.provisioning}\0`), at + 24);
      expect(vaultState(bytes)).toBe("provisioning");
    }
  });

  it("tells an interrupted provisioning from a finished vault by the header's label", () => {
    expect(vaultState(header(2, LABEL.provisioning))).toBe("provisioning");
    expect(vaultState(header(2, LABEL.vault))).toBe("vault");
  });

  it("leaves anything else alone: LUKS1, or LUKS2 with another label", () => {
    expect(vaultState(header(1, LABEL.vault))).toBe("foreign");
    expect(vaultState(header(2, "someone-elses"))).toBe("foreign");
    expect(vaultState(header(2, `${LABEL.vault}-x`))).toBe("foreign");
  });
});
