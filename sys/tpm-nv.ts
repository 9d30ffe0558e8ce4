/** TPM commands on NV indices (the vault helpers': the PIN's check, the count of vault openings). */
import { passwordCommand } from "./tpm-command.ts";

/** `command` (one handle, then a password session) with `handle` added as its second handle, which needs no authorization. */
export function withSecondHandle(command: Uint8Array, handle: number): Uint8Array {
  const longer = new Uint8Array(command.length + 4);
  longer.set(command.subarray(0, 14));
  new DataView(longer.buffer).setUint32(14, handle);
  longer.set(command.subarray(14), 18);
  new DataView(longer.buffer).setUint32(2, longer.length);
  return longer;
}

/** A command on NV index `index` authorized by the index's own authValue (`password`): the index is both the authHandle and the nvIndex. */
export const nvIndexCommand = (code: number, index: number, password: Uint8Array, parameters: Uint8Array): Uint8Array =>
  withSecondHandle(passwordCommand(code, index, password, parameters), index);
