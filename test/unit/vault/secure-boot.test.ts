import { describe, expect, it } from "vitest";
import { sealingRefusal } from "../../../vault/secure-boot.ts";

const variable = (value: number): Uint8Array => new Uint8Array([6, 0, 0, 0, value]);

describe("sealingRefusal", () => {
  it("lets the vault be sealed only with Secure Boot on and the firmware in user mode", () => {
    expect(sealingRefusal(variable(1), variable(0))).toBeNull();
    expect(sealingRefusal(variable(0), variable(0))).toBe("Secure Boot is off in the firmware");
    expect(sealingRefusal(variable(0), variable(1))).toBe("Secure Boot is off in the firmware");
    expect(sealingRefusal(variable(1), variable(1))).toBe(
      "the firmware is in setup mode: anyone could enrol their own keys",
    );
    expect(sealingRefusal(variable(1), null)).toMatch(/setup mode/);
    expect(sealingRefusal(null, null)).toMatch(/not a UEFI boot/);
    expect(sealingRefusal(new Uint8Array([6, 0, 0, 0]), variable(0))).toBe("Secure Boot is off in the firmware");
  });
});
