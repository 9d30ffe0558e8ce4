/**
 * Sends commands to the TPM through the kernel's resource manager
 * (/dev/tpmrm0), one at a time and in order, without blocking PID 1 (a slow
 * TPM delays only this queue). A command the TPM refuses, or a missing TPM,
 * is reported to `failed`, and the queue goes on. Each command resolves with
 * the TPM's reply, or null when there was none.
 */
import { open } from "node:fs/promises";

export type TpmQueue = (command: Uint8Array) => Promise<Uint8Array | null>;

/**
 * A TPM 2.0 command on `handle` authorized by one password session
 * (TPM_RS_PW, empty nonce, no attributes) holding `password`, then its
 * `parameters`.
 */
export function passwordCommand(
  code: number,
  handle: number,
  password: Uint8Array,
  parameters: Uint8Array,
): Uint8Array {
  if (password.length > 32) throw new Error("a TPM password holds at most 32 bytes");
  const size = 27 + password.length + parameters.length;
  const command = new Uint8Array(size);
  const view = new DataView(command.buffer);
  view.setUint16(0, 0x8002); // TPM_ST_SESSIONS
  view.setUint32(2, size);
  view.setUint32(6, code);
  view.setUint32(10, handle);
  view.setUint32(14, 9 + password.length); // the authorization area's size
  view.setUint32(18, 0x40000009);
  view.setUint16(25, password.length);
  command.set(password, 27);
  command.set(parameters, 27 + password.length);
  return command;
}

/** TPM2_PCR_Extend of the SHA-256 bank of `pcr` with `digest` (hex). */
export function pcrExtendCommand(pcr: number, digest: string): Uint8Array {
  const values = Buffer.alloc(38);
  values.writeUInt32BE(1, 0); // TPML_DIGEST_VALUES: one digest
  values.writeUInt16BE(0x000b, 4); // TPM_ALG_SHA256
  Buffer.from(digest, "hex").copy(values, 6);
  return passwordCommand(0x182, pcr, new Uint8Array(0), values);
}

/** A TPM reply's response code (0 is success), or null when there is no whole header. */
const responseCode = (reply: Uint8Array | null): number | null =>
  reply !== null && reply.length >= 10 ? new DataView(reply.buffer, reply.byteOffset).getUint32(6) : null;

export const tpmSucceeded = (reply: Uint8Array | null): boolean => responseCode(reply) === 0;

export function tpmQueue(failed: (error: string) => void, device = "/dev/tpmrm0"): TpmQueue {
  let tail: Promise<unknown> = Promise.resolve();
  const run = async (command: Uint8Array): Promise<Uint8Array> => {
    const file = await open(device, "r+");
    try {
      await file.write(command);
      const { bytesRead, buffer: response } = await file.read(new Uint8Array(4096), 0, 4096, null);
      const reply = response.subarray(0, bytesRead);
      const rc = responseCode(reply);
      if (rc !== 0) failed(rc === null ? `${device} gave a short reply` : `${device} answered rc 0x${rc.toString(16)}`);
      return reply;
    } finally {
      await file.close();
    }
  };
  return (command) => {
    const reply = tail
      .then(() => run(command))
      .catch((error: unknown) => {
        failed(String(error));
        return null;
      });
    tail = reply;
    return reply;
  };
}
