import { spawnSync } from "node:child_process";
import { closeSync, copyFileSync, mkdtempSync, openSync, readSync, rmSync, utimesSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { PARTITION } from "../../../rooms/boot-disk.ts";
import { buildDiskImage, diskPartitions, refreshDeviceDisk } from "../../../uki/disk.ts";

const scratch = mkdtempSync(join(tmpdir(), "anchor-disk-unit-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const image = join(scratch, "anchor.img");
buildDiskImage({ output: image, uki: null, images: [], system: null, seed: "unit" });
const start = (label: string): number => diskPartitions(image).find((p) => p.label === label)?.start ?? -1;

function poke(file: string, at: number, text: string): void {
  const fd = openSync(file, "r+");
  writeSync(fd, Buffer.from(text), 0, text.length, at);
  closeSync(fd);
}

function peek(file: string, at: number, length: number): string {
  const fd = openSync(file, "r");
  const buffer = Buffer.alloc(length);
  readSync(fd, buffer, 0, length, at);
  closeSync(fd);
  return buffer.toString();
}

describe("refreshDeviceDisk (npm run boot's out/disk.img)", () => {
  it(
    "makes the disk from the image, then rewrites every partition of it but the vault when the image is newer",
    { timeout: 60_000 },
    () => {
      const disk = join(scratch, "disk.img");
      expect(refreshDeviceDisk(image, disk)).toMatch(/^made from/);
      expect(refreshDeviceDisk(image, disk)).toBe("up to date");
      poke(disk, start(PARTITION.vault.label), "VAULT-DATA");
      poke(disk, start(PARTITION.imagesA.label), "STALE-SLOT");
      utimesSync(image, new Date(), new Date(Date.now() + 60_000));
      expect(refreshDeviceDisk(image, disk)).toMatch(/vault partition kept/);
      expect(peek(disk, start(PARTITION.vault.label), 10)).toBe("VAULT-DATA");
      expect(peek(disk, start(PARTITION.imagesA.label), 10)).toBe("\0".repeat(10));
    },
  );

  // Copies of a disk with its system slots: seconds on a loaded host.
  it("starts afresh from a disk whose partition table differs, and says the vault is gone", { timeout: 60_000 }, () => {
    const disk = join(scratch, "other.img");
    copyFileSync(image, disk);
    expect(spawnSync("sfdisk", ["--quiet", "--part-label", disk, "2", "something-else"]).status).toBe(0);
    expect(refreshDeviceDisk(image, disk)).toMatch(/partition table differs \(its vault is gone\)/);
    expect(diskPartitions(disk).map((p) => p.label)).toEqual(diskPartitions(image).map((p) => p.label));
  });
});
