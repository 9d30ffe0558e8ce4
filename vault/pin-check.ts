/**
 * The TPM's own check of the PIN, for use after the vault opened: an NV
 * index whose authValue is derived from the PIN and which the TPM's
 * dictionary-attack protection guards (no TPMA_NV_NO_DA), so each wrong PIN
 * costs a try from the same budget as the unlock prompt's, and the PIN never
 * leaves the TPM in any form that could be guessed offline. The vault's own
 * TPM token cannot serve: the barrier in PCR 11 stops it unsealing for the
 * rest of the boot. The index guards nothing but this check (it holds one
 * byte), so knowing the PIN from it opens nothing the token's PCR policy
 * would not still refuse. Defined when the PIN is chosen, and the first time
 * a PIN opens a vault that has none.
 */
import { createHash } from "node:crypto";
import { passwordCommand } from "../sys/tpm-command.ts";
import { nvIndexCommand, withSecondHandle } from "../sys/tpm-nv.ts";

/** Beside the count of openings (vault/open-counter.ts), in the owner's range of NV indices. */
export const PIN_CHECK_INDEX = 0x0180ac01;
const TPM_RH_OWNER = 0x40000001;
const CC = { defineSpace: 0x12a, undefineSpace: 0x122, write: 0x137, read: 0x14e, readPublic: 0x169 } as const;
/** TPM_NT_ORDINARY, TPMA_NV_AUTHWRITE, TPMA_NV_AUTHREAD: and not TPMA_NV_NO_DA. */
const ATTRIBUTES = (1 << 2) | (1 << 18);
const RC = { success: 0, lockout: 0x921 } as const;
/** Format-one error numbers (the low six bits once bit 7 is set): the handle is unknown, the authorization failed. */
const FMT1 = { handle: 0x0b, authFail: 0x0e, badAuth: 0x22 } as const;

/** The index's authValue: a digest of the PIN, as long as the index's name algorithm allows. */
export const pinAuth = (pin: string): Uint8Array =>
  createHash("sha256").update("anchor-vault-pin\0").update(pin).digest();

/** TPM2_NV_DefineSpace under the owner hierarchy (its authorization empty, as on a TPM nobody took): one byte, the PIN's authValue. */
export function defineCommand(pin: string): Uint8Array {
  const auth = pinAuth(pin);
  const parameters = Buffer.alloc(2 + auth.length + 2 + 14);
  parameters.writeUInt16BE(auth.length, 0);
  Buffer.from(auth).copy(parameters, 2);
  const at = 2 + auth.length;
  parameters.writeUInt16BE(14, at); // TPM2B_NV_PUBLIC
  parameters.writeUInt32BE(PIN_CHECK_INDEX, at + 2);
  parameters.writeUInt16BE(0x000b, at + 6); // nameAlg SHA-256
  parameters.writeUInt32BE(ATTRIBUTES, at + 8);
  parameters.writeUInt16BE(0, at + 12); // no authPolicy
  parameters.writeUInt16BE(1, at + 14); // dataSize
  return passwordCommand(CC.defineSpace, TPM_RH_OWNER, new Uint8Array(0), parameters);
}

/** TPM2_NV_UndefineSpace by the owner: before a new PIN's index replaces the old one's. */
export const undefineCommand = (): Uint8Array =>
  withSecondHandle(
    passwordCommand(CC.undefineSpace, TPM_RH_OWNER, new Uint8Array(0), new Uint8Array(0)),
    PIN_CHECK_INDEX,
  );

/** TPM2_NV_Write of its one byte with the PIN: an index is read only once written. */
export const writeCommand = (pin: string): Uint8Array =>
  nvIndexCommand(CC.write, PIN_CHECK_INDEX, pinAuth(pin), Uint8Array.from([0, 1, 1, 0, 0]));

/** TPM2_NV_Read of its one byte with the PIN: the check itself. */
export const checkCommand = (pin: string): Uint8Array =>
  nvIndexCommand(CC.read, PIN_CHECK_INDEX, pinAuth(pin), Uint8Array.from([0, 1, 0, 0]));

/** TPM2_NV_ReadPublic, which needs no authorization: whether the index is there. */
export const readPublicCommand = (): Uint8Array => {
  const command = new Uint8Array(14);
  const view = new DataView(command.buffer);
  view.setUint16(0, 0x8001); // TPM_ST_NO_SESSIONS
  view.setUint32(2, 14);
  view.setUint32(6, CC.readPublic);
  view.setUint32(10, PIN_CHECK_INDEX);
  return command;
};

export type PinCheck = "ok" | "wrong" | "lockout" | "absent" | { error: string };

/** The TPM's reply to any of these commands, said as what it means: done (for a check, the PIN is right), a wrong PIN, a locked-out TPM, no index. */
export function parsePinCheck(reply: Uint8Array | null): PinCheck {
  if (reply === null || reply.length < 10) return { error: "the TPM did not answer" };
  const rc = new DataView(reply.buffer, reply.byteOffset, reply.byteLength).getUint32(6);
  if (rc === RC.success) return "ok";
  if (rc === RC.lockout) return "lockout";
  if ((rc & 0x80) !== 0) {
    const number = rc & 0x3f;
    if (number === FMT1.authFail || number === FMT1.badAuth) return "wrong";
    if (number === FMT1.handle) return "absent";
  }
  return { error: `the TPM answered rc 0x${rc.toString(16)}` };
}
