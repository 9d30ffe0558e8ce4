/**
 * An update end to end, as an owner ships it and a machine takes it: the
 * running build (X, out/anchor.img) finds the next version's bundle (Y,
 * built here with `--version`) on a raw disk, offers it at the console,
 * installs it into slot B, and systemd-boot tries Y, which blesses itself.
 * Slow by nature (about 10 minutes here): it builds a second version and
 * boots three times under OVMF with Secure Boot; the boots share one disk.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, copyFileSync, mkdtempSync, openSync, readSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { parseGpt, PARTITION } from "../../rooms/boot-disk.ts";
import { systemPartUuid } from "../../uki/cmdline.ts";
import { readSystemVerity } from "../../uki/system-image.ts";
import { packageVersion } from "../../uki/version.ts";
import { chooseChoice } from "../qemu/keyboard.ts";
import { runScript } from "../qemu/paths.ts";
import { screenReader } from "../qemu/screen.ts";
import { diskPartition } from "../qemu/vault-disk.ts";
import { OUT, Vm } from "../qemu/vm.ts";

/** Firmware, systemd-boot, the stub and bay0 under TCG, and a host twice as slow. */
const UEFI_BOOT_MS = 300_000;
/** Checking and writing some hundred MiB under TCG. */
const INSTALL_MS = 600_000;
const BUILD_MS = 900_000;

const X = packageVersion();
const Y = X.replace(/^(\d+)\.(\d+)\.\d+$/, (_, major: string, minor: string) => `${major}.${Number(minor) + 1}.0`);

const sha256Of = (file: string, offset = 0, bytes = statSync(file).size - offset): string => {
  const hash = createHash("sha256");
  const fd = openSync(file, "r");
  try {
    const buffer = Buffer.alloc(1 << 20);
    for (let done = 0; done < bytes;) {
      const read = readSync(fd, buffer, 0, Math.min(buffer.length, bytes - done), offset + done);
      if (read === 0) break;
      hash.update(buffer.subarray(0, read));
      done += read;
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest("hex");
};

describe("an update from a raw disk", () => {
  const scratch = mkdtempSync(join(tmpdir(), "anchor-update-"));
  const next = join(scratch, "next");
  const disk = join(scratch, "disk.img");
  const bundle = join(next, `anchor-${Y}.bundle`);
  let vm: Vm | null = null;
  const screen = screenReader(() => {
    if (vm === null) throw new Error("no VM");
    return vm;
  }, "update");

  beforeAll(() => {
    const built = runScript("uki/build.ts", ["--test-hooks", "--version", Y, "--out", next]);
    expect(built.status, built.stderr).toBe(0);
    const packed = runScript("uki/bundle.ts", ["--out", next]);
    expect(packed.status, packed.stderr).toBe(0);
    copyFileSync(join(OUT, "anchor.img"), disk);
  }, BUILD_MS);
  afterEach(async () => {
    await vm?.stop();
    vm = null;
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  const boot = async (name: string): Promise<Vm> => {
    vm = await Vm.boot({
      name,
      uefiDisk: disk,
      persistDisk: true,
      usbKeyboard: true,
      memoryMb: 2048,
      noReboot: true,
      extraDisks: [bundle],
    });
    return vm;
  };
  /** Ctrl-Alt-Del, and the machine's reboot ends QEMU (-no-reboot). */
  const reboot = async (booted: Vm): Promise<void> => {
    await booted.sendKeys(["ctrl", "alt", "delete"]);
    await booted.waitFor("shutdown.begin", 60_000);
    expect(await booted.waitForExit(120_000)).not.toBeNull();
  };
  const entries = (): string[] => {
    const esp = diskPartition(disk, PARTITION.esp.label);
    const listed = spawnSync("mdir", ["-b", "-i", `${disk}@@${esp.offset}`, "::/EFI/Linux"], {
      encoding: "utf8",
      env: { ...process.env, MTOOLS_SKIP_CHECK: "1" },
    });
    expect(listed.status, listed.stderr).toBe(0);
    return listed.stdout
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => l.trim().split("/").pop() ?? "")
      .sort();
  };
  const partitionUuid = (label: string): string | undefined => {
    const head = Buffer.alloc(1 << 20);
    const fd = openSync(disk, "r");
    try {
      readSync(fd, head, 0, head.length, 0);
    } finally {
      closeSync(fd);
    }
    const gpt = parseGpt(head, 512);
    return gpt.ok ? gpt.partitions.find((p) => p.label === label)?.uuid : undefined;
  };
  /** What the disk's boot-relevant parts hold: the ESP and both slots' partitions. */
  const diskState = (): string[] =>
    [PARTITION.esp, PARTITION.systemA, PARTITION.systemB, PARTITION.imagesA, PARTITION.imagesB].map(({ label }) => {
      const part = diskPartition(disk, label);
      return `${label} ${sha256Of(disk, part.offset, part.bytes)}`;
    });

  it(
    `${X} offers ${Y} from the disk at the console and, approved, writes it into slot B and its UKI with 3 tries`,
    async () => {
      const booted = await boot("update-offer");
      expect(await booted.waitFor("bay0.ready", UEFI_BOOT_MS)).toMatchObject({ version: X, slot: "a" });
      const offered = await booted.waitFor("update.offered", UEFI_BOOT_MS);
      expect(offered).toMatchObject({ from: X, to: Y, source: "disk vdb", size: statSync(bundle).size });
      expect(offered.key).toMatch(/^[0-9a-f]{32}$/);
      await screen.wait(
        new RegExp(`Update: Anchor OS ${X.replaceAll(".", "\\.")} to ${Y.replaceAll(".", "\\.")}`),
        60_000,
      );
      await chooseChoice(booted, screen, `Install ${Y}`);
      const installed = await booted.waitFor("update.installed", INSTALL_MS);
      expect(installed).toMatchObject({ version: Y, slot: "b", entry: `anchor_${Y}+3.efi`, replaced: [] });
      expect(booted.records.filter((r) => r.event === "update.installing").map((r) => r.percent)).toContain(100);
      await reboot(booted);
      expect(entries()).toEqual([`anchor_${X}.efi`, `anchor_${Y}+3.efi`]);
      // Slot B holds Y's system image, answering to the PARTUUID Y's UKI pins; slot A is untouched.
      const system = diskPartition(disk, PARTITION.systemB.label);
      const image = join(next, "images", "system.squashfs");
      expect(sha256Of(disk, system.offset, statSync(image).size)).toBe(sha256Of(image));
      expect(partitionUuid(PARTITION.systemB.label)).toBe(systemPartUuid(readSystemVerity(next).root_hash));
      expect(partitionUuid(PARTITION.systemA.label)).toBe(systemPartUuid(readSystemVerity(OUT).root_hash));
    },
    UEFI_BOOT_MS + INSTALL_MS + 300_000,
  );

  it(
    `systemd-boot tries ${Y} from slot B, which is healthy and blesses itself`,
    async () => {
      const booted = await boot("update-trial");
      expect(await booted.waitFor("bay0.ready", UEFI_BOOT_MS)).toMatchObject({ version: Y, slot: "b" });
      expect(await booted.waitFor("update.blessed", UEFI_BOOT_MS)).toMatchObject({
        version: Y,
        entry: `anchor_${Y}.efi`,
        was: `anchor_${Y}+2-1.efi`,
      });
      expect(booted.records.some((r) => r.event === "update.offered")).toBe(false);
      await reboot(booted);
      expect(entries()).toEqual([`anchor_${X}.efi`, `anchor_${Y}.efi`]);
    },
    UEFI_BOOT_MS * 2,
  );

  it(
    `${Y}, blessed, boots again by itself and refuses the same bundle as no upgrade, changing nothing on the disk`,
    async () => {
      const before = diskState();
      const booted = await boot("update-again");
      expect(await booted.waitFor("bay0.ready", UEFI_BOOT_MS)).toMatchObject({ version: Y, slot: "b" });
      expect(await booted.waitFor("update.refused", UEFI_BOOT_MS)).toMatchObject({
        reason: "downgrade",
        source: "disk vdb",
      });
      expect(booted.records.some((r) => r.event === "update.blessed")).toBe(false);
      await reboot(booted);
      expect(diskState()).toEqual(before);
    },
    UEFI_BOOT_MS * 2,
  );
});
