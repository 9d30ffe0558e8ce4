/**
 * What the vault partition holds, from its first EXAMINED_BYTES: nothing at
 * all (provision it), a LUKS2 volume still being provisioned (a power cut
 * interrupted it, or the person never confirmed the recovery key: provision
 * again from the start), a vault (unlock it), a vault whose primary header
 * is damaged but whose second header stands (unlock it: libcryptsetup reads
 * the second), or anything else, which is never provisioned over. Blank
 * means provably empty: every byte where a LUKS2 header, its JSON or its
 * keyslots could be is zero. Provisioning labels the LUKS2 header
 * PROVISIONING first and VAULT once the person has the recovery key.
 */
export const LABEL = { provisioning: "anchor-vault-provisioning", vault: "anchor-vault" } as const;

/** Bytes read from the partition's start: LUKS2's metadata and keyslot areas by default, with both headers. */
export const EXAMINED_BYTES = 16 * 1024 * 1024;
const PRIMARY_MAGIC = [0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe]; // "LUKS\xba\xbe"
const SECONDARY_MAGIC = [0x53, 0x4b, 0x55, 0x4c, 0xba, 0xbe]; // "SKUL\xba\xbe"
/** Where LUKS2 puts its second binary header: right after the first header's area, whose size is one of these. */
const SECONDARY_OFFSETS = [0x4000, 0x8000, 0x10000, 0x20000, 0x40000, 0x80000, 0x100000, 0x200000, 0x400000];
const LABEL_AT = 24;
const LABEL_BYTES = 48;

export type VaultState = "blank" | "provisioning" | "vault" | "damaged" | "foreign";

const hasMagic = (bytes: Uint8Array, at: number, magic: number[]): boolean =>
  magic.every((byte, i) => bytes[at + i] === byte);

/** A LUKS binary header's meaning for us, at `at`: ours (by label), or not. */
function headerAt(bytes: Uint8Array, at: number): "provisioning" | "vault" | "foreign" {
  const version = ((bytes[at + 6] ?? 0) << 8) | (bytes[at + 7] ?? 0);
  if (version !== 2) return "foreign";
  const raw = bytes.subarray(at + LABEL_AT, at + LABEL_AT + LABEL_BYTES);
  const end = raw.indexOf(0);
  const label = new TextDecoder().decode(end < 0 ? raw : raw.subarray(0, end));
  return label === LABEL.vault ? "vault" : label === LABEL.provisioning ? "provisioning" : "foreign";
}

/** Bytes that hold the primary header's fields read here: enough when it is there. */
export const PRIMARY_BYTES = 4096;

/** The partition's state from its primary header alone, or null when it has none (then only EXAMINED_BYTES tell). */
export const primaryState = (bytes: Uint8Array): "provisioning" | "vault" | "foreign" | null =>
  hasMagic(bytes, 0, PRIMARY_MAGIC) ? headerAt(bytes, 0) : null;

export function vaultState(bytes: Uint8Array): VaultState {
  const primary = primaryState(bytes);
  if (primary !== null) return primary;
  const second = SECONDARY_OFFSETS.find((at) => hasMagic(bytes, at, SECONDARY_MAGIC));
  if (second !== undefined) {
    const ours = headerAt(bytes, second);
    return ours === "vault" ? "damaged" : ours;
  }
  return bytes.every((byte) => byte === 0) ? "blank" : "foreign";
}
