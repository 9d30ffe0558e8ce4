import { existsSync } from "node:fs";
import { imageMountPoint } from "../rooms/plan.ts";

/** Where the vault-tools image is mounted (uki/vault-tools.ts builds it). */
export const VAULT_TOOLS = imageMountPoint("vault-tools");
/** The open vault's device-mapper name: /dev/mapper/vault. */
export const VAULT_MAPPER = "vault";
export const PERSIST = "/persist";
/** The rooms' folders: `[vault] folder = "NAME"` is /persist/rooms/NAME. */
export const VAULT_ROOMS = `${PERSIST}/rooms`;
/** Beside the rooms' folders, which no room sees: where the courier stages a file until it is whole and checked. */
export const VAULT_STAGING = `${PERSIST}/.staging`;
/** Each boot's audit log, kept from the moment the vault opens (courier/audit.ts). */
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

/** systemd's stub hands over the owner's signed PCR 11 policy here (uki/pcr-policy.ts). */
export const PCR_SIGNATURE = "/.extra/tpm2-pcr-signature.json";
const PCR_PUBLIC_KEY = "/.extra/tpm2-pcr-public-key.pem";

/**
 * systemd-cryptenroll's arguments for the vault's TPM token: PCR 7, plus the
 * owner's signed PCR 11 policy when the stub handed it over (a UKI boot),
 * and the PIN (NEWPIN in the environment) as the TPM object's authorization.
 */
export function sealArguments(): { args: string[]; binding: "pcr7+signed-pcr11" | "pcr7" } {
  const signed = existsSync(PCR_SIGNATURE) && existsSync(PCR_PUBLIC_KEY);
  const policy = signed ? [`--tpm2-public-key=${PCR_PUBLIC_KEY}`, "--tpm2-public-key-pcrs=11", `--tpm2-signature=${PCR_SIGNATURE}`] : [];
  return { args: ["--tpm2-device=auto", "--tpm2-pcrs=7", ...policy, "--tpm2-with-pin=yes"], binding: signed ? "pcr7+signed-pcr11" : "pcr7" };
}
