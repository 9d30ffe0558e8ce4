/**
 * The TPM's dictionary-attack state, read with TPM2_GetCapability
 * (TPM_CAP_TPM_PROPERTIES from TPM_PT_PERMANENT): how many wrong PINs it will
 * still take before it locks out, whether it is locked out, and whether a
 * lockout authorization is set. bay0 reads it before and after an unlock
 * attempt instead of parsing any program's messages.
 */
import { passwordCommand } from "../sys/tpm-command.ts";

export const GET_DA_PROPERTIES = Uint8Array.from([
  0x80,
  0x01,
  0x00,
  0x00,
  0x00,
  0x16,
  0x00,
  0x00,
  0x01,
  0x7a, // TPM_ST_NO_SESSIONS, size 22, TPM_CC_GetCapability
  0x00,
  0x00,
  0x00,
  0x06,
  0x00,
  0x00,
  0x02,
  0x00,
  0x00,
  0x00,
  0x00,
  0x12, // TPM_CAP_TPM_PROPERTIES, from PT_PERMANENT, 18
]);

const PT = {
  PERMANENT: 0x200,
  LOCKOUT_COUNTER: 0x20e,
  MAX_AUTH_FAIL: 0x20f,
  LOCKOUT_INTERVAL: 0x210,
  LOCKOUT_RECOVERY: 0x211,
} as const;
const IN_LOCKOUT = 1 << 9;
const LOCKOUT_AUTH_SET = 1 << 2;

/** `recoveryS`: seconds until one failure is forgiven; `lockoutRecoveryS`: after a wrong lockout authorization, before it may be tried again (null when not reported). */
export type Lockout = {
  failures: number;
  maxFailures: number;
  triesLeft: number;
  inLockout: boolean;
  lockoutAuthSet: boolean;
  recoveryS: number | null;
  lockoutRecoveryS: number | null;
};

/** The reply's properties, or null when it is not a successful answer carrying them. */
export function parseLockout(reply: Uint8Array): Lockout | null {
  if (reply.length < 19) return null;
  const view = new DataView(reply.buffer, reply.byteOffset, reply.byteLength);
  if (view.getUint32(6) !== 0) return null;
  const count = view.getUint32(15);
  const properties = new Map<number, number>();
  for (let i = 0; i < count && 19 + i * 8 + 8 <= reply.length; i++)
    properties.set(view.getUint32(19 + i * 8), view.getUint32(23 + i * 8));
  const permanent = properties.get(PT.PERMANENT);
  const failures = properties.get(PT.LOCKOUT_COUNTER);
  const maxFailures = properties.get(PT.MAX_AUTH_FAIL);
  if (permanent === undefined || failures === undefined || maxFailures === undefined) return null;
  const inLockout = (permanent & IN_LOCKOUT) !== 0;
  return {
    failures,
    maxFailures,
    triesLeft: inLockout ? 0 : Math.max(0, maxFailures - failures),
    inLockout,
    lockoutAuthSet: (permanent & LOCKOUT_AUTH_SET) !== 0,
    recoveryS: properties.get(PT.LOCKOUT_INTERVAL) ?? null,
    lockoutRecoveryS: properties.get(PT.LOCKOUT_RECOVERY) ?? null,
  };
}

/** Why an unlock failed, from the DA state before and after it: a counted wrong PIN, a lockout, or (no count) the TPM's policy refused. */
export function unlockFailure(before: Lockout | null, after: Lockout | null): "pin" | "lockout" | "pcr" | "unknown" {
  if (after === null || before === null) return "unknown";
  if (after.inLockout) return "lockout";
  return after.failures > before.failures ? "pin" : "pcr";
}

const TPM_RH_LOCKOUT = 0x4000000a;

/**
 * TPM2_HierarchyChangeAuth of the lockout hierarchy, from the empty
 * authorization it has on a cleared TPM to `auth` (at most 32 bytes).
 * Whoever holds the lockout authorization may reset the dictionary-attack
 * counter, so it is set at random and kept only inside the vault.
 */
export function setLockoutAuthCommand(auth: Uint8Array): Uint8Array {
  if (auth.length > 32) throw new Error("a lockout authorization holds at most 32 bytes");
  const parameters = new Uint8Array(2 + auth.length);
  new DataView(parameters.buffer).setUint16(0, auth.length);
  parameters.set(auth, 2);
  return passwordCommand(0x129, TPM_RH_LOCKOUT, new Uint8Array(0), parameters);
}

/**
 * TPM2_DictionaryAttackLockReset with the vault's lockout authorization:
 * once the person proved the PIN or the recovery key, the failures before
 * (wrong PINs, and the one the TPM counts for each power cut) are forgiven,
 * as a phone forgets failed attempts after a good unlock.
 */
export const resetLockoutCommand = (auth: Uint8Array): Uint8Array =>
  passwordCommand(0x139, TPM_RH_LOCKOUT, auth, new Uint8Array(0));

/**
 * The PIN's guess budget, set by bay0 whatever the TPM's firmware chose: 3
 * wrong PINs, then one forgiven every 2 hours (12 guesses a day, where
 * swtpm's default forgives one every 1000 s); after a wrong lockout
 * authorization, a day before it may be tried again.
 */
export const DA_POLICY = { maxTries: 3, recoveryS: 7200, lockoutRecoveryS: 86400 } as const;

export const hasDaPolicy = (state: Lockout): boolean =>
  state.maxFailures === DA_POLICY.maxTries &&
  state.recoveryS === DA_POLICY.recoveryS &&
  state.lockoutRecoveryS === DA_POLICY.lockoutRecoveryS;

/** TPM2_DictionaryAttackParameters with the vault's lockout authorization: DA_POLICY. */
export function daParametersCommand(auth: Uint8Array): Uint8Array {
  const parameters = new Uint8Array(12);
  const view = new DataView(parameters.buffer);
  view.setUint32(0, DA_POLICY.maxTries);
  view.setUint32(4, DA_POLICY.recoveryS);
  view.setUint32(8, DA_POLICY.lockoutRecoveryS);
  return passwordCommand(0x13a, TPM_RH_LOCKOUT, auth, parameters);
}
