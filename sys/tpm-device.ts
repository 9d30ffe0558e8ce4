/**
 * Sends commands to the TPM through the kernel's resource manager
 * (/dev/tpmrm0), one at a time and in order, without blocking PID 1 (a slow
 * TPM delays only this queue). A command the TPM refuses, or a missing TPM,
 * is reported to `failed`, and the queue goes on. Each command resolves with
 * the TPM's reply, or null when there was none.
 */
import { open } from "node:fs/promises";

export type TpmQueue = (command: Uint8Array) => Promise<Uint8Array | null>;

export function tpmQueue(failed: (error: string) => void, device = "/dev/tpmrm0"): TpmQueue {
  let tail: Promise<unknown> = Promise.resolve();
  const run = async (command: Uint8Array): Promise<Uint8Array> => {
    const file = await open(device, "r+");
    try {
      await file.write(command);
      const { bytesRead, buffer: response } = await file.read(new Uint8Array(4096), 0, 4096, null);
      const rc = bytesRead >= 10 ? new DataView(response.buffer).getUint32(6) : -1;
      if (rc !== 0) failed(`${device} answered rc 0x${rc.toString(16)}`);
      return response.subarray(0, bytesRead);
    } finally {
      await file.close();
    }
  };
  return (command) => {
    const reply = tail.then(() => run(command)).catch((error: unknown) => {
      failed(String(error));
      return null;
    });
    tail = reply;
    return reply;
  };
}
