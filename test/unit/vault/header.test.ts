import { describe, expect, it } from "vitest";
import { HEADER_BYTES, LABEL, vaultState } from "../../../vault/header.ts";

/** A LUKS binary header's first fields: magic, version, sizes, then the 48-byte label at offset 24. */
function header(version: number, label: string): Uint8Array {
  const bytes = new Uint8Array(HEADER_BYTES);
  bytes.set([0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe, 0, version]);
  bytes.set(new TextEncoder().encode(label), 24);
  return bytes;
}

describe("vaultState", () => {
  it("calls a partition without a LUKS header blank (the placeholder of a fresh disk is zeros)", () => {
    expect(vaultState(new Uint8Array(HEADER_BYTES))).toBe("blank");
    expect(vaultState(new Uint8Array(0))).toBe("blank");
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
