/**
 * The ESP (FAT) as the update helper changes it: mounted only while it
 * does, only its UKI folder touched, every change fsync'd with the folder
 * before the next (FAT has no journal: what is synced is what a power cut
 * leaves). Outside PID 1.
 */
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statfsSync,
  statSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { MS, type Libc } from "./libc.ts";

const MOUNT_POINT = "/run/anchor-esp";

export type Esp = {
  /** The files of `dir` (relative to the ESP's root), or none when it is missing. */
  list(dir: string): string[];
  /** A small file's bytes (at most `max`), or null when it is missing or larger. */
  read(path: string, max: number): Uint8Array | null;
  /** A file's size, 0 when it is missing. */
  size(path: string): number;
  /** Bytes free on the ESP. */
  free(): number;
  /** Writes `bytes` as `path`, synced with its folder. */
  write(path: string, bytes: Uint8Array): void;
  rename(from: string, to: string): void;
  remove(path: string): void;
  /** Unmounts it: null, or why not. */
  close(): string | null;
};

/** Syncs the folder holding `path`, so a new, renamed or removed name is on the disk. */
function syncFolderOf(path: string): void {
  const fd = openSync(join(path, ".."), "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Mounts the ESP partition `device` (nothing on it executable by Linux, no access times): the ESP, or why not. */
export function mountEsp(libc: Libc, device: string, writable: boolean): Esp | string {
  mkdirSync(MOUNT_POINT, { recursive: true, mode: 0o700 });
  const flags = MS.NOSUID | MS.NODEV | MS.NOEXEC | MS.NOATIME | (writable ? 0n : MS.RDONLY);
  const mounted = libc.mount(device, MOUNT_POINT, "vfat", flags, "umask=077");
  if (!mounted.ok) return `cannot mount the ESP ${device}: ${mounted.message}`;
  const at = (path: string): string => join(MOUNT_POINT, path);
  return {
    list: (dir) => {
      try {
        return readdirSync(at(dir));
      } catch {
        return [];
      }
    },
    read: (path, max) => {
      try {
        return statSync(at(path)).size <= max ? new Uint8Array(readFileSync(at(path))) : null;
      } catch {
        return null;
      }
    },
    size: (path) => {
      try {
        return statSync(at(path)).size;
      } catch {
        return 0;
      }
    },
    free: () => {
      const stats = statfsSync(MOUNT_POINT);
      return stats.bavail * stats.bsize;
    },
    write: (path, bytes) => {
      mkdirSync(join(at(path), ".."), { recursive: true });
      const fd = openSync(at(path), "w", 0o600);
      try {
        for (let done = 0; done < bytes.length;) done += writeSync(fd, bytes, done, bytes.length - done);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      syncFolderOf(at(path));
    },
    rename: (from, to) => {
      renameSync(at(from), at(to));
      syncFolderOf(at(to));
    },
    remove: (path) => {
      rmSync(at(path), { force: true });
      syncFolderOf(at(path));
    },
    close: () => {
      libc.sync();
      const unmounted = libc.umount2(MOUNT_POINT, 0);
      return unmounted.ok ? null : `cannot unmount the ESP: ${unmounted.message}`;
    },
  };
}
