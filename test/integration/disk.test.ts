import { spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PARTITION } from "../../rooms/boot-disk.ts";
import { imageManifestSchema } from "../../rooms/images.ts";
import { diskPartitions } from "../../uki/disk.ts";
import { builtImages, corruptedCopy, testDisk } from "../qemu/probe-image.ts";
import { OUT, Vm } from "../qemu/vm.ts";

const UEFI_BOOT_MS = 240_000;
const GiB = 1024 ** 3;
const scratch = mkdtempSync(join(tmpdir(), "anchor-disk-test-"));

const run = (argv: string[]): void => {
  const result = spawnSync(argv[0] ?? "", argv.slice(1), { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`${argv.join(" ")}: ${result.stderr}`);
};

/**
 * One firmware boot for what a device meets in the field: out/anchor.img
 * written onto a 4 GiB disk, one byte of the workshop image flipped on it,
 * a USB stick whose partitions carry Anchor labels and other content, and
 * a whole copy of the boot disk (partition UUIDs are public: a stick can
 * clone the ESP's), which the firmware did not boot.
 */
describe("out/anchor.img on a larger disk, beside a foreign Anchor stick", () => {
  let vm: Vm;
  const large = join(scratch, "large.img");
  const clone = join(scratch, "clone.img");

  beforeAll(async () => {
    run(["qemu-img", "convert", "-f", "raw", "-O", "raw", join(OUT, "anchor.img"), large]);
    run(["qemu-img", "resize", "-f", "raw", large, "4G"]);
    const slot = diskPartitions(large).find((p) => p.label === PARTITION.imagesA.label);
    const workshop = imageManifestSchema.parse(
      JSON.parse(readFileSync(join(OUT, "images", "manifest.json"), "utf8")),
    ).workshop;
    if (slot === undefined || workshop === undefined)
      throw new Error("out/anchor.img lacks slot A or the workshop image");
    const at = slot.start + workshop.offset + Math.floor(workshop.hash_offset / 2);
    const fd = openSync(large, "r+");
    const byte = Buffer.alloc(1);
    readSync(fd, byte, 0, 1, at);
    byte[0] = (byte[0] ?? 0) ^ 0x01;
    writeSync(fd, byte, 0, 1, at);
    closeSync(fd);
    const minimal = builtImages().find((i) => i.name === "minimal");
    if (minimal === undefined) throw new Error("no built minimal image");
    const stick = testDisk(join(scratch, "stick.img"), [corruptedCopy("minimal", minimal)]);
    run(["cp", "--sparse=always", large, clone]);
    vm = await Vm.boot({
      name: "disk-large",
      uefiDisk: large,
      persistDisk: true,
      extraDisks: [stick.file, clone],
      noReboot: true,
    });
    for (const room of ["web", "work"]) await vm.waitFor("room.started", UEFI_BOOT_MS, (r) => r.room === room);
    await vm.waitFor("image.verity_failed", UEFI_BOOT_MS, (r) => r.image === "workshop");
  }, UEFI_BOOT_MS + 60_000);
  afterAll(async () => {
    await vm?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it("boots from the 4 GiB disk: the partition table holds although its backup header is mid-disk; of it and its clone, the one the firmware booted", () => {
    expect(statSync(large).size).toBe(4 * GiB);
    expect(vm.records.find((r) => r.event === "image.boot_disk")).toMatchObject({
      disk: "vda",
      how: "firmware-device",
      slot: "/dev/vda2",
    });
    expect(vm.records.filter((r) => r.event === "room.started").map((r) => r.room)).toEqual(["web", "work"]);
  });

  it("ignores the stick's and the clone's Anchor partitions and says so", () => {
    expect(vm.records.filter((r) => r.event === "image.ignored").map((r) => [r.disk, r.reason])).toEqual([
      ["vdb", "not the boot disk"],
      ["vdc", "not the boot disk"],
    ]);
    expect(
      vm.records.filter((r) => r.event === "image.mounted").every((r) => String(r.device).startsWith("/dev/dm-")),
    ).toBe(true);
  });

  it("refuses the image with the flipped byte and mounts the other", () => {
    expect(vm.records.find((r) => r.event === "image.verity_failed")).toMatchObject({
      image: "workshop",
      partition: "/dev/vda2",
    });
    expect(vm.records.filter((r) => r.event === "image.mounted").map((r) => r.image)).toEqual(["minimal"]);
  });
});
