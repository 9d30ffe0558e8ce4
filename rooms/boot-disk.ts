/**
 * The Anchor OS disk (out/anchor.img) and how bay0 finds the one it booted
 * from. Partitions are named by GPT label (a public interface, see README);
 * types follow the UAPI Discoverable Partitions Specification where one fits.
 */

import type { RawDisk } from "../sys/block-devices.ts";

export const PARTITION = {
  esp: { label: "anchor-esp", type: "c12a7328-f81f-11d2-ba4b-00a0c93ec93b" },
  // The images of a slot are several verity squashfs files; no DPS type names that, so: Linux data.
  imagesA: { label: "anchor-images-a", type: "0fc63daf-8483-4772-8e79-3d69d8477de4" },
  imagesB: { label: "anchor-images-b", type: "0fc63daf-8483-4772-8e79-3d69d8477de4" },
  // A slot's system image (squashfs, its hash tree appended): bay0 and what it runs. Linux data too: DPS types assume the tree apart.
  systemA: { label: "anchor-system-a", type: "0fc63daf-8483-4772-8e79-3d69d8477de4" },
  systemB: { label: "anchor-system-b", type: "0fc63daf-8483-4772-8e79-3d69d8477de4" },
  // The de facto "Linux LUKS" type (sgdisk 8309): the vault is LUKS2.
  vault: { label: "anchor-vault", type: "ca7d7ccb-63ed-4c53-861c-1742536059cc" },
} as const;

const ANCHOR_LABELS = new Set<string>(Object.values(PARTITION).map((p) => p.label));

export type GptPartition = {
  number: number;
  type: string;
  uuid: string;
  label: string;
  firstLba: bigint;
  lastLba: bigint;
};

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

export function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = (CRC_TABLE[(crc ^ byte) & 0xff] ?? 0) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** A GPT GUID as text: the first three fields are stored little-endian. */
function guid(bytes: Uint8Array): string {
  const hex = (from: number, to: number, reverse: boolean): string => {
    const part = [...bytes.subarray(from, to)];
    return (reverse ? part.reverse() : part).map((b) => b.toString(16).padStart(2, "0")).join("");
  };
  return `${hex(0, 4, true)}-${hex(4, 6, true)}-${hex(6, 8, true)}-${hex(8, 10, false)}-${hex(10, 16, false)}`;
}

/**
 * Parses the primary GPT from a disk's first sectors (LBA 0 onward, at
 * least header and entries). Checks the signature and both CRCs; returns
 * the used entries, or why the disk has no valid GPT. The backup header is
 * not needed: an image written to a larger disk leaves it mid-disk.
 */
export function parseGpt(
  disk: Uint8Array,
  sectorSize: number,
): { ok: true; partitions: GptPartition[] } | { ok: false; error: string } {
  if (disk.length < sectorSize * 2) return { ok: false, error: "too short for a GPT header" };
  const view = new DataView(disk.buffer, disk.byteOffset, disk.byteLength);
  const at = sectorSize;
  if (new TextDecoder().decode(disk.subarray(at, at + 8)) !== "EFI PART")
    return { ok: false, error: "no GPT signature" };
  const headerSize = view.getUint32(at + 12, true);
  if (headerSize < 92 || headerSize > sectorSize) return { ok: false, error: `bad GPT header size ${headerSize}` };
  const header = Uint8Array.from(disk.subarray(at, at + headerSize));
  new DataView(header.buffer).setUint32(16, 0, true);
  if (crc32(header) !== view.getUint32(at + 16, true)) return { ok: false, error: "GPT header CRC mismatch" };
  const entriesAt = Number(view.getBigUint64(at + 72, true)) * sectorSize;
  const count = view.getUint32(at + 80, true);
  const entrySize = view.getUint32(at + 84, true);
  if (entrySize < 128 || count > 1024) return { ok: false, error: `bad GPT entry table (${count} x ${entrySize})` };
  const table = disk.subarray(entriesAt, entriesAt + count * entrySize);
  if (table.length < count * entrySize) return { ok: false, error: "GPT entries lie beyond what was read" };
  if (crc32(table) !== view.getUint32(at + 88, true)) return { ok: false, error: "GPT entries CRC mismatch" };
  const partitions: GptPartition[] = [];
  for (let i = 0; i < count; i++) {
    const entry = table.subarray(i * entrySize, (i + 1) * entrySize);
    const type = guid(entry.subarray(0, 16));
    if (type === "00000000-0000-0000-0000-000000000000") continue;
    const ev = new DataView(entry.buffer, entry.byteOffset, entry.byteLength);
    const label = new TextDecoder("utf-16le").decode(entry.subarray(56, 128)).replace(/\0.*$/s, "");
    partitions.push({
      number: i + 1,
      type,
      uuid: guid(entry.subarray(16, 32)),
      label,
      firstLba: ev.getBigUint64(32, true),
      lastLba: ev.getBigUint64(40, true),
    });
  }
  return { ok: true, partitions };
}

/** `sysfs`: where the kernel placed the disk (/sys/devices/pci…/…/block/NAME), or null when it could not say. */
export type Disk = {
  name: string;
  sysfs: string | null;
  partitions: (GptPartition & { device: string; majorMinor: string })[];
};

/** Joins each disk's GPT with the kernel's partition devices; disks without a valid GPT are left out. */
export function disksWithGpt(raw: RawDisk[]): Disk[] {
  const disks: Disk[] = [];
  for (const disk of raw) {
    const gpt = parseGpt(disk.head, disk.sectorSize);
    if (!gpt.ok) continue;
    const partitions = gpt.partitions.flatMap((p) => {
      const node = disk.partitions.get(p.number);
      return node === undefined ? [] : [{ ...p, ...node }];
    });
    disks.push({ name: disk.name, sysfs: disk.sysfs, partitions });
  }
  return disks;
}

export type BootDiskChoice =
  | { ok: true; disk: Disk; how: "loader-partition" | "firmware-device" | "only-anchor-disk"; ignored: Disk[] }
  | { ok: false; reason: string; ignored: Disk[] };

const hasAnchorPartitions = (disk: Disk): boolean => disk.partitions.some((p) => ANCHOR_LABELS.has(p.label));

/** A PCI function on the way to a device: its device and function numbers, as a device path's Pci() node and sysfs both name it. */
export type PciHop = { device: number; fn: number };

/**
 * The disk bay0 booted from: the one holding the ESP whose partition UUID
 * the EFI stub reported (LoaderDevicePartUUID). Partition UUIDs are public,
 * so a stick may clone it: then the one the firmware's boot entry
 * (BootCurrent) leads to through the same PCI functions, if exactly one
 * does. Without a reported partition (a direct kernel boot), the only disk
 * with Anchor partitions. Never guesses between two. Every other disk
 * carrying Anchor labels is returned as ignored.
 */
export function chooseBootDisk(
  disks: Disk[],
  loaderPartUuid: string | null,
  firmwarePath: PciHop[] | null = null,
): BootDiskChoice {
  const anchorDisks = disks.filter(hasAnchorPartitions);
  if (loaderPartUuid !== null) {
    const wanted = loaderPartUuid.toLowerCase();
    const holders = disks.filter((d) => d.partitions.some((p) => p.uuid === wanted));
    if (holders.length === 1 && holders[0] !== undefined)
      return {
        ok: true,
        disk: holders[0],
        how: "loader-partition",
        ignored: anchorDisks.filter((d) => d !== holders[0]),
      };
    const booted =
      firmwarePath === null || firmwarePath.length === 0
        ? []
        : holders.filter((d) => samePath(pciPathOf(d.sysfs), firmwarePath));
    if (booted.length === 1 && booted[0] !== undefined)
      return { ok: true, disk: booted[0], how: "firmware-device", ignored: anchorDisks.filter((d) => d !== booted[0]) };
    return {
      ok: false,
      reason: `${holders.length} disks hold the boot partition ${wanted}${holders.length > 1 ? ", and the firmware's boot entry does not single one out" : ""}`,
      ignored: anchorDisks,
    };
  }
  const disk = anchorDisks[0];
  if (disk === undefined || anchorDisks.length > 1) {
    return {
      ok: false,
      reason: `no boot partition reported by the firmware and ${anchorDisks.length} disks carry Anchor partitions`,
      ignored: anchorDisks,
    };
  }
  return { ok: true, disk, how: "only-anchor-disk", ignored: [] };
}

const samePath = (a: PciHop[], b: PciHop[]): boolean =>
  a.length === b.length && a.every((hop, i) => hop.device === b[i]?.device && hop.fn === b[i]?.fn);

/** The PCI functions on a disk's sysfs path (`…/0000:00:1c.0/0000:03:00.0/…`), outermost first. */
export function pciPathOf(sysfs: string | null): PciHop[] {
  return (sysfs ?? "").split("/").flatMap((segment) => {
    const match = /^[0-9a-f]{4}:[0-9a-f]{2}:([0-9a-f]{2})\.([0-7])$/.exec(segment);
    return match === null
      ? []
      : [{ device: Number.parseInt(match[1] ?? "", 16), fn: Number.parseInt(match[2] ?? "", 10) }];
  });
}

/**
 * The PCI functions in a Boot#### variable's device path (efivarfs: 4
 * bytes of attributes, then an EFI_LOAD_OPTION: attributes, the path's
 * length, a NUL-terminated UTF-16 description, the path's nodes), outermost
 * first; empty when it names none (a short-form HD() path), null when it is
 * not a load option.
 */
export function parseBootOption(variable: Uint8Array): PciHop[] | null {
  if (variable.length < 12) return null;
  const view = new DataView(variable.buffer, variable.byteOffset, variable.byteLength);
  const pathLength = view.getUint16(8, true);
  let at = 10;
  while (at + 1 < variable.length && view.getUint16(at, true) !== 0) at += 2;
  at += 2;
  const end = at + pathLength;
  if (end > variable.length) return null;
  const hops: PciHop[] = [];
  while (at + 4 <= end) {
    const [type, subtype] = [variable[at], variable[at + 1]];
    const length = view.getUint16(at + 2, true);
    if (length < 4 || at + length > end) return null;
    if (type === 0x7f && subtype === 0xff) return hops;
    // Hardware device path, PCI: function, then device.
    if (type === 0x01 && subtype === 0x01 && length === 6)
      hops.push({ device: variable[at + 5] ?? 0, fn: variable[at + 4] ?? 0 });
    at += length;
  }
  return null;
}

/** A Boot Loader Interface string in efivarfs: 4 bytes of attributes, then UTF-16LE up to a NUL; printable, or null. */
export function loaderText(efivar: Uint8Array | null): string | null {
  if (efivar === null) return null;
  const text = new TextDecoder("utf-16le").decode(efivar.subarray(4)).replace(/\0.*$/s, "");
  return /^[\x20-\x7e]{1,200}$/.test(text) ? text : null;
}

/** LoaderDevicePartUUID's efivarfs content: the ESP's partition UUID, lower case. */
export function parseLoaderPartUuid(efivar: Uint8Array): string | null {
  const text = loaderText(efivar)?.trim().toLowerCase() ?? "";
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(text) ? text : null;
}
