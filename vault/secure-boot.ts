/**
 * Whether the firmware's state is one the vault may be sealed to. PCR 7
 * measures the Secure Boot policy: sealed while Secure Boot is off (an evil
 * maid turned it off, the owner then recovered and resealed), the vault
 * would trust whatever that firmware boots next; in setup mode anyone at the
 * keyboard can enrol their own keys. Read from efivarfs: 4 bytes of
 * attributes, then the value.
 */
import { readFileSync } from "node:fs";

const GLOBAL = "8be4df61-93ca-11d2-aa0d-00e098032b8c";
export const SECURE_BOOT_VAR = `/sys/firmware/efi/efivars/SecureBoot-${GLOBAL}`;
export const SETUP_MODE_VAR = `/sys/firmware/efi/efivars/SetupMode-${GLOBAL}`;

/** Why the vault must not be sealed now, in words for the person; null when Secure Boot is on and the firmware is in user mode. */
export function sealingRefusal(secureBoot: Uint8Array | null, setupMode: Uint8Array | null): string | null {
  if (secureBoot === null) return "the firmware does not say Secure Boot is on (this is not a UEFI boot)";
  if (secureBoot[4] !== 1) return "Secure Boot is off in the firmware";
  if (setupMode === null || setupMode[4] !== 0)
    return "the firmware is in setup mode: anyone could enrol their own keys";
  return null;
}

const readVariable = (path: string): Uint8Array | null => {
  try {
    return readFileSync(path);
  } catch {
    return null;
  }
};

/** sealingRefusal for this boot's firmware. */
export const sealingRefusalNow = (): string | null =>
  sealingRefusal(readVariable(SECURE_BOOT_VAR), readVariable(SETUP_MODE_VAR));
