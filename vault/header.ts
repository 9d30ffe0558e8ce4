/**
 * What the vault partition holds, from its first bytes: nothing of ours
 * (provision it), a LUKS2 volume still being provisioned (a power cut
 * interrupted it: provision again from the start), or a vault (unlock it).
 * Provisioning labels the LUKS2 header PROVISIONING first and VAULT last.
 */
export const LABEL = { provisioning: "anchor-vault-provisioning", vault: "anchor-vault" } as const;

/** Bytes to read from the partition's start: the LUKS2 binary header's fixed fields. */
export const HEADER_BYTES = 4096;
const MAGIC = [0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe]; // "LUKS\xba\xbe"
const LABEL_AT = 24;
const LABEL_BYTES = 48;

export type VaultState = "blank" | "provisioning" | "vault" | "foreign";

export function vaultState(header: Uint8Array): VaultState {
  if (!MAGIC.every((byte, i) => header[i] === byte)) return "blank";
  const version = ((header[6] ?? 0) << 8) | (header[7] ?? 0);
  if (version !== 2) return "foreign";
  const raw = header.subarray(LABEL_AT, LABEL_AT + LABEL_BYTES);
  const end = raw.indexOf(0);
  const label = new TextDecoder().decode(end < 0 ? raw : raw.subarray(0, end));
  return label === LABEL.vault ? "vault" : label === LABEL.provisioning ? "provisioning" : "foreign";
}
