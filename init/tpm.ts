import type { ReadOnlyFs } from "./hardening.ts";

/**
 * PCRs the vault will seal against: 7 (Secure Boot state and keys) and 11
 * (the UKI's sections, measured by systemd's EFI stub).
 */
export const MEASURED_PCRS = [7, 11] as const;

export type PcrReading = { device: string; bank: "sha256"; pcrs: Record<string, string> } | null;

/** Reads the sha256 PCR bank through the kernel's sysfs view of the TPM; null without a TPM 2.0. */
export function readPcrs(fs: ReadOnlyFs, device = "tpm0"): PcrReading {
  const base = `/sys/class/tpm/${device}/pcr-sha256`;
  if (!fs.exists(base)) return null;
  const pcrs: Record<string, string> = {};
  for (const index of MEASURED_PCRS) {
    const value = fs.read(`${base}/${index}`);
    if (value !== null) pcrs[String(index)] = value.trim().toLowerCase();
  }
  return { device: `/dev/${device}`, bank: "sha256", pcrs };
}
