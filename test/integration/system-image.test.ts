import { readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { SystemImage } from "../../uki/disk.ts";
import { testSystem } from "../qemu/probe-image.ts";
import { Vm } from "../qemu/vm.ts";
import { BOOT_TIMEOUT_MS } from "./helpers.ts";

/** A direct boot to the kernel's panic: kernel, preinit, the first read of the system image. */
const PANIC_MS = 120_000;
const scratch = mkdtempSync(join(tmpdir(), "anchor-system-image-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** The test system image with one byte flipped at `at`, still pinned by the original's parameters. */
function flipped(name: string, at: (verity: SystemImage["verity"]) => number): SystemImage {
  const original = testSystem();
  const bytes = readFileSync(original.file);
  const offset = at(original.verity);
  bytes.writeUInt8((bytes.readUInt8(offset) ^ 0x01) & 0xff, offset);
  const file = join(scratch, `${name}.squashfs`);
  writeFileSync(file, bytes);
  return { file, verity: original.verity };
}

/** Boots with `image` in slot A's system partition and waits for the machine to stop (no reboot). */
async function bootToEnd(name: string, image: SystemImage): Promise<Vm> {
  const vm = await Vm.boot({ name, system: { image }, noReboot: true, noWatchdog: true });
  try {
    await vm.waitForExit(PANIC_MS);
  } finally {
    await vm.stop();
  }
  return vm;
}

const verityError = (vm: Vm): boolean =>
  vm.lines.some((l) => /device-mapper: verity: .* block \d+ is corrupted/.test(l));
const panicked = (vm: Vm): boolean =>
  vm.lines.some((l) => /Kernel panic - not syncing: dm-verity device corrupted/.test(l));

describe("the system image, verified by dm-verity from the pinned root hash", () => {
  it(
    "stops the boot at the first read of a byte changed in the data (squashfs's superblock): no bay0.ready",
    async () => {
      const vm = await bootToEnd(
        "system-flipped-data",
        flipped("data", () => 100),
      );
      expect(verityError(vm)).toBe(true);
      expect(panicked(vm)).toBe(true);
      expect(vm.records.some((r) => r.event === "bay0.ready")).toBe(false);
    },
    PANIC_MS + 30_000,
  );

  it(
    "stops the boot when a byte of the hash tree's top level changed: every read fails",
    async () => {
      // The top level of the tree follows veritysetup's one-block superblock.
      const vm = await bootToEnd(
        "system-flipped-tree",
        flipped("tree", (verity) => verity.hash_offset + 4096 + 10),
      );
      expect(verityError(vm)).toBe(true);
      expect(panicked(vm)).toBe(true);
      expect(vm.records.some((r) => r.event === "bay0.ready")).toBe(false);
    },
    PANIC_MS + 30_000,
  );
});

describe("slot B", () => {
  it(
    "boots the system image and the base images from slot B when slot B holds them: bay0.ready says so, and a room starts from them",
    async () => {
      const vm = await Vm.boot({ name: "system-slot-b", slot: "b", noReboot: true });
      try {
        expect(await vm.waitFor("bay0.ready", BOOT_TIMEOUT_MS)).toMatchObject({ slot: "b" });
        // Partition 3 is anchor-images-b; slot A's partitions are empty on this disk.
        expect(await vm.waitFor("image.boot_disk", BOOT_TIMEOUT_MS)).toMatchObject({ slot: "/dev/vda3" });
        expect(await vm.waitFor("image.mounted", BOOT_TIMEOUT_MS, (r) => r.image === "minimal")).toMatchObject({
          root_hash: expect.stringMatching(/^[0-9a-f]{64}$/),
        });
        expect(await vm.waitFor("room.started", BOOT_TIMEOUT_MS, (r) => r.room === "web")).toBeTruthy();
      } finally {
        await vm.stop();
      }
    },
    4 * BOOT_TIMEOUT_MS,
  );
});
