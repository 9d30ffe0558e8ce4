import { existsSync } from "node:fs";

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
  const policy = signed
    ? [`--tpm2-public-key=${PCR_PUBLIC_KEY}`, "--tpm2-public-key-pcrs=11", `--tpm2-signature=${PCR_SIGNATURE}`]
    : [];
  return {
    args: ["--tpm2-device=auto", "--tpm2-pcrs=7", ...policy, "--tpm2-with-pin=yes"],
    binding: signed ? "pcr7+signed-pcr11" : "pcr7",
  };
}
