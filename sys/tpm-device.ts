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
 * TPM2_PCR_Extend of the SHA-256 bank of `pcr` with `digest` (hex): the header (TPM_ST_SESSIONS, 65 bytes, the
 * command code), the PCR, one password session (9 bytes: TPM_RS_PW, no nonce, no attributes, an empty password),
 * then one digest (TPM_ALG_SHA256).
 */
export const pcrExtendCommand = (pcr: number, digest: string): Uint8Array =>
  Buffer.from(
    `80020000004100000182${pcr.toString(16).padStart(8, "0")}0000000940000009000000000000000001000b${digest}`,
    "hex",
  );

/** A TPM reply's response code (0 is success), or null when there is no whole header. */
export const responseCode = (reply: Uint8Array | null): number | null =>
  reply !== null && reply.length >= 10 ? new DataView(reply.buffer, reply.byteOffset).getUint32(6) : null;

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
