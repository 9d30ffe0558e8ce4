import { VAULT_TOOLS } from "../init/layout.ts";
/** The open vault's device-mapper name: /dev/mapper/vault. */
export const VAULT_MAPPER = "vault";
export const PERSIST = "/persist";
/** The rooms' folders: `[vault] folder = "NAME"` is /persist/rooms/NAME. */
export const VAULT_ROOMS = `${PERSIST}/rooms`;
/** Beside the rooms' folders, which no room sees: where the courier stages a file until it is whole and checked. */
export const VAULT_STAGING = `${PERSIST}/.staging`;
/** Each boot's audit log, kept from the moment the vault opens (audit/chain.ts). */
export const VAULT_AUDIT = `${PERSIST}/audit`;

/**
 * The environment the tools run in: their own libraries; systemd's built-in
 * TPM2 code rather than libcryptsetup's plugin (which it would look for
 * outside the image); and no udev, which Anchor OS does not run.
 */
export function toolEnv(): Record<string, string> {
  return {
    PATH: `${VAULT_TOOLS}/bin`,
    LD_LIBRARY_PATH: `${VAULT_TOOLS}/lib`,
    MKE2FS_CONFIG: `${VAULT_TOOLS}/etc/mke2fs.conf`,
    SYSTEMD_CRYPTSETUP_USE_TOKEN_MODULE: "0",
    DM_DISABLE_UDEV: "1",
  };
}
