import { describe, expect, it } from "vitest";
import {
  daParametersCommand,
  GET_DA_PROPERTIES,
  hasDaPolicy,
  parseLockout,
  resetLockoutCommand,
  setLockoutAuthCommand,
  unlockFailure,
} from "../../../vault/lockout.ts";
import { tpmSucceeded } from "../../../sys/tpm-command.ts";

/** A TPM2_GetCapability reply carrying `properties` (TPM_CAP_TPM_PROPERTIES). */
function reply(properties: [number, number][], rc = 0): Uint8Array {
  const bytes = Buffer.alloc(19 + properties.length * 8);
  bytes.writeUInt16BE(0x8001, 0);
  bytes.writeUInt32BE(bytes.length, 2);
  bytes.writeUInt32BE(rc, 6);
  bytes.writeUInt32BE(6, 11);
  bytes.writeUInt32BE(properties.length, 15);
  properties.forEach(([property, value], i) => {
    bytes.writeUInt32BE(property, 19 + i * 8);
    bytes.writeUInt32BE(value, 23 + i * 8);
  });
  return bytes;
}

describe("the TPM's dictionary-attack state", () => {
  it("asks for 18 properties from TPM_PT_PERMANENT (22 bytes)", () => {
    expect(Buffer.from(GET_DA_PROPERTIES).toString("hex")).toBe("8001000000160000017a000000060000020000000012");
  });

  it("reads the counter, the maximum and the flags, as swtpm reports them fresh", () => {
    const fresh = reply([
      [0x200, 0x400],
      [0x20e, 0],
      [0x20f, 3],
      [0x210, 1000],
      [0x211, 1000],
    ]);
    expect(parseLockout(fresh)).toEqual({
      failures: 0,
      maxFailures: 3,
      triesLeft: 3,
      inLockout: false,
      lockoutAuthSet: false,
      recoveryS: 1000,
      lockoutRecoveryS: 1000,
    });
    expect(
      parseLockout(
        reply([
          [0x200, 0x204],
          [0x20e, 3],
          [0x20f, 3],
        ]),
      ),
    ).toEqual({
      failures: 3,
      maxFailures: 3,
      triesLeft: 0,
      inLockout: true,
      lockoutAuthSet: true,
      recoveryS: null,
      lockoutRecoveryS: null,
    });
  });

  it("refuses an error reply or one without the properties", () => {
    expect(parseLockout(reply([[0x200, 0]], 0x101))).toBeNull();
    expect(parseLockout(reply([[0x200, 0]]))).toBeNull();
    expect(parseLockout(new Uint8Array(10))).toBeNull();
  });

  it("names why an unlock failed from the state before and after", () => {
    const at = (failures: number, inLockout = false) => ({
      failures,
      maxFailures: 3,
      triesLeft: 3 - failures,
      inLockout,
      lockoutAuthSet: false,
      recoveryS: 1000,
      lockoutRecoveryS: 1000,
    });
    expect(unlockFailure(at(0), at(1))).toBe("pin");
    expect(unlockFailure(at(2), at(3, true))).toBe("lockout");
    expect(unlockFailure(at(1), at(1))).toBe("pcr");
    expect(unlockFailure(null, at(1))).toBe("unknown");
  });

  it("sets the lockout hierarchy's authorization from the empty one (TPM2_HierarchyChangeAuth on TPM_RH_LOCKOUT)", () => {
    expect(Buffer.from(setLockoutAuthCommand(Uint8Array.from([0xab, 0xcd]))).toString("hex")).toBe(
      "80020000001f000001294000000a00000009" + "40000009" + "0000" + "00" + "0000" + "0002abcd",
    );
    expect(() => setLockoutAuthCommand(new Uint8Array(33))).toThrow(/at most 32 bytes/);
    // TPM2_DictionaryAttackLockReset, authorized by that same password.
    expect(Buffer.from(resetLockoutCommand(Uint8Array.from([0xab, 0xcd]))).toString("hex")).toBe(
      "80020000001d000001394000000a0000000b" + "40000009" + "0000" + "00" + "0002abcd",
    );
    expect(tpmSucceeded(Uint8Array.from([0x80, 0x02, 0, 0, 0, 10, 0, 0, 0, 0]))).toBe(true);
    expect(tpmSucceeded(Uint8Array.from([0x80, 0x01, 0, 0, 0, 10, 0, 0, 0x09, 0x21]))).toBe(false);
    expect(tpmSucceeded(null)).toBe(false);
  });

  it("sets bay0's own guess budget with the lockout authorization: 3 tries, one forgiven every 2 h, a day after a wrong lockout authorization", () => {
    const auth = new Uint8Array(32).fill(7);
    const command = Buffer.from(daParametersCommand(auth));
    // TPM_ST_SESSIONS, size, TPM_CC_DictionaryAttackParameters on TPM_RH_LOCKOUT, a password session with the authorization, then the three values.
    expect(command.readUInt16BE(0)).toBe(0x8002);
    expect(command.readUInt32BE(2)).toBe(command.length);
    expect(command.readUInt32BE(6)).toBe(0x13a);
    expect(command.readUInt32BE(10)).toBe(0x4000000a);
    expect(command.subarray(27, 59)).toEqual(Buffer.from(auth));
    expect([command.readUInt32BE(59), command.readUInt32BE(63), command.readUInt32BE(67)]).toEqual([3, 7200, 86400]);
    const state = (interval: number, recovery: number) => {
      const parsed = parseLockout(
        reply([
          [0x200, 0],
          [0x20e, 0],
          [0x20f, 3],
          [0x210, interval],
          [0x211, recovery],
        ]),
      );
      if (parsed === null) throw new Error("unparsed");
      return parsed;
    };
    expect(hasDaPolicy(state(7200, 86400))).toBe(true);
    expect(hasDaPolicy(state(1000, 1000))).toBe(false);
  });
});
