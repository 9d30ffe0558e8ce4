/**
 * The kernel command line Anchor OS boots with: console on the screen and
 * the serial port (the last console= is /dev/console, where bay0 logs),
 * kernel chatter limited to warnings, reboot 5 s after a panic.
 */
export const BASE_CMDLINE = ["console=tty0", "console=ttyS0", "loglevel=4", "panic=5"];

/** A system image's verity parameters (uki/system-image.ts). */
type SystemVerity = { root_hash: string; salt: string; hash_offset: number };

const VERITY_BLOCK = 4096;

/**
 * The partition UUID of a slot holding a system image: the first 128 bits of
 * its root hash, made a version-4 UUID, as the Discoverable Partitions
 * Specification derives a verity partition's. A slot is found by what it
 * holds, never by a device name. (uki/disk.ts names the other partitions
 * the same way, from a digest of the build's manifest.)
 */
export function systemPartUuid(rootHash: string): string {
  const h = rootHash.toLowerCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${((Number.parseInt(h[16] ?? "0", 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * `anchor.system=PARTUUID,DATA_BLOCKS,ROOT_HASH,SALT`: the system image the
 * UKI pins. preinit finds the partition, maps it through dm-verity with
 * these parameters (the hash tree follows the data and veritysetup's
 * superblock) and makes it the root; one byte changed anywhere stops the
 * boot when it is read.
 */
export const systemPin = (verity: SystemVerity, partUuid = systemPartUuid(verity.root_hash)): string =>
  `anchor.system=${partUuid},${verity.hash_offset / VERITY_BLOCK},${verity.root_hash},${verity.salt}`;
