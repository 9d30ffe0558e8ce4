/**
 * The TPM's count of vault openings: an NV counter index (TPM_NT_COUNTER),
 * which only ever goes up. The vault helper adds one each time it opens the
 * vault, and each boot's audit copy records the count it got
 * (`audit.flushed`'s `count`). Files in the vault can be deleted by whoever
 * holds its key, the counter cannot be wound back: when the newest file's
 * count is below the TPM's, the files of the openings in between are gone.
 * Even a counter deleted and defined again starts above every count the TPM
 * has given before. Anyone may add one (an empty authorization): that can
 * only raise a false alarm, never hide a missing file.
 */
import { passwordCommand } from "../sys/tpm-command.ts";
import { nvIndexCommand } from "../sys/tpm-nv.ts";

/** In the owner's range of NV indices (TCG's handle registry: 0x01800000-0x01BFFFFF). */
export const OPEN_COUNTER_INDEX = 0x0180ac00;
const TPM_RH_OWNER = 0x40000001;
const TPM_RC_HANDLE = 0x18b;
const TPM_RC_NV_UNINITIALIZED = 0x14a;
const CC = { defineSpace: 0x12a, increment: 0x134, read: 0x14e } as const;
/** TPM_NT_COUNTER, TPMA_NV_AUTHWRITE, TPMA_NV_AUTHREAD, TPMA_NV_NO_DA (a wrong empty password must not count towards the PIN's lockout). */
const ATTRIBUTES = (1 << 4) | (1 << 2) | (1 << 18) | (1 << 25);

/** TPM2_NV_DefineSpace under the owner hierarchy (its authorization empty, as on a TPM nobody took): an 8-byte counter, empty authValue. */
export function defineCounterCommand(index = OPEN_COUNTER_INDEX): Uint8Array {
  const parameters = Buffer.alloc(2 + 2 + 14);
  parameters.writeUInt16BE(0, 0); // TPM2B_AUTH: empty
  parameters.writeUInt16BE(14, 2); // TPM2B_NV_PUBLIC
  parameters.writeUInt32BE(index, 4);
  parameters.writeUInt16BE(0x000b, 8); // nameAlg SHA-256
  parameters.writeUInt32BE(ATTRIBUTES, 10);
  parameters.writeUInt16BE(0, 14); // no authPolicy
  parameters.writeUInt16BE(8, 16); // dataSize
  return passwordCommand(CC.defineSpace, TPM_RH_OWNER, new Uint8Array(0), parameters);
}

const onIndex = (code: number, index: number, parameters: Uint8Array): Uint8Array =>
  nvIndexCommand(code, index, new Uint8Array(0), parameters);

export const incrementCommand = (index = OPEN_COUNTER_INDEX): Uint8Array =>
  onIndex(CC.increment, index, new Uint8Array(0));

/** TPM2_NV_Read of the counter's 8 bytes. */
export const readCounterCommand = (index = OPEN_COUNTER_INDEX): Uint8Array =>
  onIndex(CC.read, index, Uint8Array.from([0, 8, 0, 0]));

export type CounterRead = { count: number } | { absent: true } | { error: string };

/** The reply to readCounterCommand: the count, that the index is not there (or never counted yet), or why not. */
export function parseCounter(reply: Uint8Array | null): CounterRead {
  if (reply === null || reply.length < 10) return { error: "the TPM did not answer" };
  const view = new DataView(reply.buffer, reply.byteOffset, reply.byteLength);
  const rc = view.getUint32(6);
  // A format-one handle error names the handle in bits 8-10, whichever of the two it was.
  if ((rc & 0xff) === (TPM_RC_HANDLE & 0xff)) return { absent: true };
  if (rc === TPM_RC_NV_UNINITIALIZED) return { absent: true };
  if (rc !== 0) return { error: `the TPM answered rc 0x${rc.toString(16)}` };
  if (reply.length < 24 || view.getUint16(14) !== 8) return { error: "the TPM's reply holds no counter" };
  const count = view.getBigUint64(16);
  return count > BigInt(Number.MAX_SAFE_INTEGER)
    ? { error: "the counter is past what a count can say" }
    : { count: Number(count) };
}
