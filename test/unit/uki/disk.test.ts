import { spawnSync } from "node:child_process";
import {
  closeSync,
  copyFileSync,
  mkdtempSync,
  openSync,
  readSync,
  rmSync,
  utimesSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { PARTITION } from "../../../rooms/boot-disk.ts";
import {
  buildDiskImage,
  diskLayout,
  diskPartitions,
  espFiles,
  LOADER_CONF,
  refreshDeviceDisk,
} from "../../../uki/disk.ts";
import { systemPartUuid } from "../../../uki/cmdline.ts";

const scratch = mkdtempSync(join(tmpdir(), "anchor-disk-unit-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const image = join(scratch, "anchor.img");
buildDiskImage({ output: image, esp: null, images: [], system: null, seed: "unit" });
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

describe("the ESP", () => {
  it("holds systemd-boot as the removable-media loader, its settings and the UKI named by its version", () => {
    const loader = join(scratch, "loader.efi");
    const uki = join(scratch, "uki.efi");
    writeFileSync(loader, "LOADER");
    writeFileSync(uki, "UKI");
    const disk = join(scratch, "esp.img");
    buildDiskImage({ output: disk, esp: { loader, uki, version: "4.5.6" }, images: [], system: null, seed: "esp" });
    const esp = `${disk}@@${start(PARTITION.esp.label)}`;
    const env = { ...process.env, MTOOLS_SKIP_CHECK: "1" };
    const read = (path: string) => spawnSync("mtype", ["-i", esp, `::/${path}`], { encoding: "utf8", env }).stdout;
    expect(read("EFI/BOOT/BOOTX64.EFI")).toBe("LOADER");
    expect(read("EFI/Linux/anchor_4.5.6.efi")).toBe("UKI");
    expect(read("loader/loader.conf")).toBe(LOADER_CONF);
    // No menu to wait at or edit the command line in, nothing found elsewhere, no seed written.
    expect(LOADER_CONF.split("\n")).toEqual(
      expect.arrayContaining(["timeout 0", "editor no", "auto-entries no", "auto-firmware no", "random-seed-mode off"]),
    );
    // Without a loader, the UKI alone is the loader, as images before systemd-boot were made.
    expect(espFiles({ loader: null, uki, version: "4.5.6" })).toEqual([{ path: "EFI/BOOT/BOOTX64.EFI", from: uki }]);
  });
});

describe("a slot's partitions", () => {
  it("name the system partition of the slot that holds the image by its root hash, the other by the seed", () => {
    const rootHash = "ab".repeat(32);
    const uuidOf = (slot: "a" | "b", label: string) =>
      diskLayout(128, "seed", { sizeMib: 128, rootHash, slot }).find((p) => p.label === label)?.uuid;
    expect(uuidOf("a", PARTITION.systemA.label)).toBe(systemPartUuid(rootHash));
    expect(uuidOf("a", PARTITION.systemB.label)).not.toBe(systemPartUuid(rootHash));
    expect(uuidOf("b", PARTITION.systemB.label)).toBe(systemPartUuid(rootHash));
    expect(uuidOf("b", PARTITION.systemA.label)).not.toBe(systemPartUuid(rootHash));
  });
});
