/** TPM 2.0 commands with a password session, and whether the TPM took one: what the vault helpers send. */
import { responseCode } from "./tpm-device.ts";

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

export const tpmSucceeded = (reply: Uint8Array | null): boolean => responseCode(reply) === 0;
