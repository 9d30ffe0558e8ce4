/**
 * A disk or partition read and written by offset, for the update helper:
 * a bundle stick read as the raw device it is (no file system mounted), a
 * slot's partitions written. Blocking calls: only helpers use this.
 */
import { closeSync, fsyncSync, openSync, readSync, writeSync } from "node:fs";
import { basename } from "node:path";
import { readTextOrNull } from "./files.ts";

export type BlockDevice = {
  /** Its size in bytes, as the kernel gives it. */
  size: number;
  /** Up to `length` bytes at `offset` (fewer only at its end or on a short read). */
  read(offset: number, length: number): Uint8Array;
  write(offset: number, bytes: Uint8Array): void;
  sync(): void;
  close(): void;
};

/** Opens `/dev/NAME` (a whole disk or a partition): throws when it cannot. */
export function openBlockDevice(device: string, writable: boolean): BlockDevice {
  const sectors = Number.parseInt(readTextOrNull(`/sys/class/block/${basename(device)}/size`) ?? "", 10);
  if (!Number.isSafeInteger(sectors)) throw new Error(`${device} is not a block device the kernel lists`);
  const fd = openSync(device, writable ? "r+" : "r");
  return {
    size: sectors * 512,
    read: (offset, length) => {
      const bytes = new Uint8Array(length);
      return bytes.subarray(0, readSync(fd, bytes, 0, length, offset));
    },
    write: (offset, bytes) => {
      for (let done = 0; done < bytes.length;) done += writeSync(fd, bytes, done, bytes.length - done, offset + done);
    },
    sync: () => fsyncSync(fd),
    close: () => closeSync(fd),
  };
}
