/**
 * Changes one GPT partition's unique GUID, in a header and its entry array
 * (done for the primary GPT and again for the backup): a UKI pins its
 * system partition by a PARTUUID derived from the system image's root hash
 * (uki/cmdline.ts), so installing a new system image into a slot gives the
 * slot's partition the new UKI's PARTUUID. Nothing is edited in a GPT whose
 * checksums do not hold.
 */
import { crc32 } from "../rooms/boot-disk.ts";

const UUID = /^([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})$/;

/** A UUID in GPT's byte order: the first three fields little-endian. */
export function guidBytes(uuid: string): Uint8Array {
  const match = UUID.exec(uuid.toLowerCase());
  if (match === null) throw new Error(`not a UUID: ${uuid}`);
  const hex = (text: string, reverse: boolean): number[] => {
    const bytes = (text.match(/../g) ?? []).map((pair) => Number.parseInt(pair, 16));
    return reverse ? bytes.reverse() : bytes;
  };
  return Uint8Array.from([
    ...hex(match[1] ?? "", true),
    ...hex(match[2] ?? "", true),
    ...hex(match[3] ?? "", true),
    ...hex(match[4] ?? "", false),
    ...hex(match[5] ?? "", false),
  ]);
}

/** Where a GPT header (one sector) says its entries are, and the other header: or why it is not a GPT header. */
export function gptHeaderFields(
  header: Uint8Array,
): { ok: true; alternateLba: bigint; entriesLba: bigint; entriesBytes: number } | { ok: false; error: string } {
  if (header.length < 92 || new TextDecoder().decode(header.subarray(0, 8)) !== "EFI PART")
    return { ok: false, error: "no GPT signature" };
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  const size = view.getUint32(12, true);
  if (size < 92 || size > header.length) return { ok: false, error: `bad GPT header size ${size}` };
  const copy = Uint8Array.from(header.subarray(0, size));
  new DataView(copy.buffer).setUint32(16, 0, true);
  if (crc32(copy) !== view.getUint32(16, true)) return { ok: false, error: "GPT header CRC mismatch" };
  const count = view.getUint32(80, true);
  const entrySize = view.getUint32(84, true);
  if (entrySize < 128 || entrySize > 1024 || count > 1024)
    return { ok: false, error: `bad GPT entry table (${count} x ${entrySize})` };
  return {
    ok: true,
    alternateLba: view.getBigUint64(32, true),
    entriesLba: view.getBigUint64(72, true),
    entriesBytes: count * entrySize,
  };
}

/**
 * The header and entries with partition `number`'s unique GUID set to
 * `uuid`, both checksums renewed; or why not (a checksum that did not hold,
 * no such partition).
 */
export function withPartitionGuid(
  header: Uint8Array,
  entries: Uint8Array,
  number: number,
  uuid: string,
): { ok: true; header: Uint8Array; entries: Uint8Array } | { ok: false; error: string } {
  const fields = gptHeaderFields(header);
  if (!fields.ok) return fields;
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  if (entries.length !== fields.entriesBytes) return { ok: false, error: "the entry table is not the header's size" };
  if (crc32(entries) !== view.getUint32(88, true)) return { ok: false, error: "GPT entries CRC mismatch" };
  const entrySize = view.getUint32(84, true);
  const count = view.getUint32(80, true);
  if (number < 1 || number > count) return { ok: false, error: `no partition ${number}` };
  const newEntries = Uint8Array.from(entries);
  const at = (number - 1) * entrySize;
  if (newEntries.subarray(at, at + 16).every((byte) => byte === 0))
    return { ok: false, error: `no partition ${number}` };
  newEntries.set(guidBytes(uuid), at + 16);
  const newHeader = Uint8Array.from(header);
  const edit = new DataView(newHeader.buffer);
  edit.setUint32(88, crc32(newEntries), true);
  edit.setUint32(16, 0, true);
  edit.setUint32(16, crc32(newHeader.subarray(0, edit.getUint32(12, true))), true);
  return { ok: true, header: newHeader, entries: newEntries };
}
