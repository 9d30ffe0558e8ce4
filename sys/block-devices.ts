/**
 * The machine's disks as the image helper (rooms/mount-images.ts) sees
 * them: each whole disk's first sectors (where its GPT lives) and its
 * partitions' device nodes and numbers. Outside PID 1, so a slow USB stick
 * stalls only the helper.
 */
import { open, readFile } from "node:fs/promises";
import { readdirSync, realpathSync } from "node:fs";
import { readTextOrNull } from "./files.ts";
import {
  chooseBootDisk,
  disksWithGpt,
  parseBootOption,
  parseLoaderPartUuid,
  type BootDiskChoice,
} from "../rooms/boot-disk.ts";

/** Enough for the protective MBR, the GPT header and 128 entries on 512- or 4096-byte sectors. */
const HEAD_BYTES = 65536;
const VIRTUAL = /^(loop|dm-|ram|zram|sr|nbd)/;

/** The first `bytes` of a block device (fewer if it is smaller); throws when it cannot be read. */
async function readHead(device: string, bytes: number): Promise<Uint8Array> {
  const file = await open(device, "r");
  try {
    const buffer = new Uint8Array(bytes);
    const { bytesRead } = await file.read(buffer, 0, bytes, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await file.close();
  }
}

export type RawDisk = {
  name: string;
  /** Where the kernel placed it: /sys/devices/…/block/NAME, or null. */
  sysfs: string | null;
  sectorSize: number;
  head: Uint8Array;
  /** Partition number -> device node and major:minor. */
  partitions: Map<number, { device: string; majorMinor: string }>;
};

/** A disk that has not given its first sectors by then is left out: a stalled stick must not hold the boot disk's images. */
const HEAD_READ_MS = 10_000;

/** `promise`, or a rejection with `what` once `ms` have passed. */
function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(what)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** Every real disk, all read at once; one that cannot be read, or not in time, is reported through `unreadable` and left out. */
export async function readDisks(
  unreadable: (disk: string, error: string) => void,
  headReadMs = HEAD_READ_MS,
): Promise<RawDisk[]> {
  const read = async (name: string): Promise<RawDisk | null> => {
    const partitions = new Map<number, { device: string; majorMinor: string }>();
    for (const child of readdirSync(`/sys/block/${name}`)) {
      const number = Number.parseInt(readTextOrNull(`/sys/block/${name}/${child}/partition`) ?? "", 10);
      const majorMinor = readTextOrNull(`/sys/block/${name}/${child}/dev`)?.trim();
      if (Number.isInteger(number) && majorMinor !== undefined)
        partitions.set(number, { device: `/dev/${child}`, majorMinor });
    }
    try {
      const sectorSize = Number.parseInt(readTextOrNull(`/sys/block/${name}/queue/logical_block_size`) ?? "512", 10);
      const head = await withDeadline(
        readHead(`/dev/${name}`, HEAD_BYTES),
        headReadMs,
        `no answer within ${headReadMs / 1000} s`,
      );
      return { name, sysfs: sysfsPath(name), sectorSize, head, partitions };
    } catch (error) {
      unreadable(name, error instanceof Error ? error.message : String(error));
      return null;
    }
  };
  const disks = await Promise.all(
    readdirSync("/sys/block")
      .filter((n) => !VIRTUAL.test(n))
      .sort()
      .map(read),
  );
  return disks.filter((disk): disk is RawDisk => disk !== null);
}

function sysfsPath(name: string): string | null {
  try {
    return realpathSync(`/sys/block/${name}`);
  } catch {
    return null;
  }
}

const GLOBAL_VARIABLE = "8be4df61-93ca-11d2-aa0d-00e098032b8c";

/** The firmware's boot entry for this boot (Boot#### named by BootCurrent), as efivarfs holds it, or null. */
export async function readBootCurrentOption(): Promise<Uint8Array | null> {
  try {
    const current = await readFile(`/sys/firmware/efi/efivars/BootCurrent-${GLOBAL_VARIABLE}`);
    if (current.length < 6) return null;
    const number = current.readUInt16LE(4).toString(16).toUpperCase().padStart(4, "0");
    return await readFile(`/sys/firmware/efi/efivars/Boot${number}-${GLOBAL_VARIABLE}`);
  } catch {
    return null;
  }
}

/** A variable systemd-boot or its stub set (efivarfs, the Boot Loader Interface's vendor), or null on a boot without it. */
export async function readLoaderVariable(name: string): Promise<Uint8Array | null> {
  try {
    return await readFile(`/sys/firmware/efi/efivars/${name}-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f`);
  } catch {
    return null;
  }
}

/** Reads a block device end to end (a dm-verity device checks every block): null, or the read error. */
export async function readWhole(device: string): Promise<string | null> {
  let file: Awaited<ReturnType<typeof open>>;
  try {
    file = await open(device, "r");
  } catch (error) {
    return `cannot open ${device}: ${String(error)}`;
  }
  const buffer = new Uint8Array(1 << 20);
  try {
    for (let position = 0; ;) {
      const { bytesRead } = await file.read(buffer, 0, buffer.length, position);
      if (bytesRead === 0) return null;
      position += bytesRead;
    }
  } catch (error) {
    return `reading ${device}: ${String(error)}`;
  } finally {
    await file.close();
  }
}

/** The disk among `raw` this machine booted from, as the loader and the firmware's boot entry tell it (rooms/boot-disk.ts). */
export async function findBootDisk(raw: RawDisk[]): Promise<BootDiskChoice> {
  const efivar = await readLoaderVariable("LoaderDevicePartUUID");
  const option = await readBootCurrentOption();
  return chooseBootDisk(
    disksWithGpt(raw),
    efivar === null ? null : parseLoaderPartUuid(efivar),
    option === null ? null : parseBootOption(option),
  );
}
