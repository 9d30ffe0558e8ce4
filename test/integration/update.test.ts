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
import {
  closeSync,
  copyFileSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { parseGpt, PARTITION } from "../../rooms/boot-disk.ts";
import { systemPartUuid } from "../../uki/cmdline.ts";
import { readSystemVerity } from "../../uki/system-image.ts";
import { ownerUpdateSigner, signBundleHead, testUpdateSigner, type UpdateSigner } from "../../uki/update-keys.ts";
import { packageVersion } from "../../uki/version.ts";
import { bundlePrefix, headerSchema, PREFIX_BYTES, ED25519_SIGNATURE_BYTES } from "../../update/bundle.ts";
import { chooseChoice } from "../qemu/keyboard.ts";
import { runScript } from "../qemu/paths.ts";
import { screenReader } from "../qemu/screen.ts";
import { diskPartition } from "../qemu/vault-disk.ts";
import { osRelease } from "../../uki/initramfs.ts";
import { pcrSigningKey, sign, signingKey } from "../../uki/sign.ts";
import { assembleUki } from "../../uki/uki.ts";
import { peSection, ukiFacts } from "../../update/uki-sections.ts";
import { OUT, Vm } from "../qemu/vm.ts";

/** Firmware, systemd-boot, the stub and bay0 under TCG, and a host twice as slow. */
const UEFI_BOOT_MS = 300_000;
/** Checking and writing some hundred MiB under TCG. */
const INSTALL_MS = 600_000;
const BUILD_MS = 900_000;

const X = packageVersion();
const later = (version: string, by: number): string =>
  version.replace(/^(\d+)\.(\d+)\.\d+$/, (_, major: string, minor: string) => `${major}.${Number(minor) + by}.0`);
const Y = later(X, 1);
/** A version that never becomes healthy. */
const Z = later(X, 2);

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

/** A bundle file's head: its header's bytes as JSON, and where its two signatures are. */
function headOf(file: string): { header: ReturnType<typeof headerSchema.parse>; signaturesAt: number } {
  const fd = openSync(file, "r");
  try {
    const prefix = Buffer.alloc(PREFIX_BYTES);
    readSync(fd, prefix, 0, PREFIX_BYTES, 0);
    const length = prefix.readUInt32LE(16);
    const header = Buffer.alloc(length);
    readSync(fd, header, 0, length, PREFIX_BYTES);
    return { header: headerSchema.parse(JSON.parse(header.toString("utf8"))), signaturesAt: PREFIX_BYTES + length };
  } finally {
    closeSync(fd);
  }
}

/** A copy of `file` as `into`, with `bytes` written at `offset`. */
function patched(file: string, into: string, offset: number, bytes: Uint8Array): string {
  copyFileSync(file, into);
  const fd = openSync(into, "r+");
  try {
    writeSync(fd, bytes, 0, bytes.length, offset);
  } finally {
    closeSync(fd);
  }
  return into;
}

/** The bundle's head with `header` in it, signed by `signer`. */
function signedHead(header: object, signer: UpdateSigner): Uint8Array {
  const text = new TextEncoder().encode(JSON.stringify(header));
  const message = new Uint8Array([...bundlePrefix(text.length), ...text]);
  return new Uint8Array([...message, ...signBundleHead(message, signer)]);
}

/**
 * Makes the build in `dir` a version that never becomes healthy: its UKI,
 * signed alike, autostarts a room no policy names.
 */
function neverHealthy(dir: string, scratch: string): void {
  const uki = join(dir, "anchor.efi");
  const image = new Uint8Array(readFileSync(uki));
  const cmdline = new TextDecoder().decode(peSection(image, ".cmdline") ?? new Uint8Array()).replace(/\0.*$/s, "");
  const version = ukiFacts(image).version ?? "";
  const unsigned = join(scratch, "never-healthy.efi");
  assembleUki(
    {
      vmlinuz: join(dir, "vmlinuz"),
      initramfs: join(dir, "initramfs.img"),
      cmdline: `${cmdline.trim()} anchor.autostart=absent`,
      osRelease: osRelease(version),
      version,
      pcrKey: pcrSigningKey(null, scratch),
    },
    unsigned,
  );
  sign(unsigned, uki, signingKey(null, scratch));
}

describe("an update from a raw disk", () => {
  const scratch = mkdtempSync(join(tmpdir(), "anchor-update-"));
  const next = join(scratch, "next");
  const failing = join(scratch, "failing");
  const disk = join(scratch, "disk.img");
  const bundle = join(next, `anchor-${Y}.bundle`);
  /** Forged copies of the bundle, on the disks before the good one, each with the reason it is refused. */
  const forged: { file: string; reason: string; detail: RegExp }[] = [];
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
    const builtZ = runScript("uki/build.ts", ["--test-hooks", "--version", Z, "--out", failing]);
    expect(builtZ.status, builtZ.stderr).toBe(0);
    neverHealthy(failing, scratch);
    const packedZ = runScript("uki/bundle.ts", ["--out", failing]);
    expect(packedZ.status, packedZ.stderr).toBe(0);
    copyFileSync(join(OUT, "anchor.img"), disk);
    const { header, signaturesAt } = headOf(bundle);
    const system = header.parts.find((p) => p.kind === "system");
    if (system === undefined) throw new Error("no system part");
    const flip = (at: number): Uint8Array => {
      const byte = Buffer.alloc(1);
      const fd = openSync(bundle, "r");
      readSync(fd, byte, 0, 1, at);
      closeSync(fd);
      return Uint8Array.of((byte[0] ?? 0) ^ 0x01);
    };
    const keys = join(scratch, "other-keys");
    const made = runScript("uki/keys.ts", [keys]);
    expect(made.status, made.stderr).toBe(0);
    forged.push(
      {
        file: patched(bundle, join(scratch, "payload.bundle"), system.offset + 4096, flip(system.offset + 4096)),
        reason: "hash",
        detail: /part system is not the bytes the header signed/,
      },
      {
        file: patched(bundle, join(scratch, "other-key.bundle"), 0, signedHead(header, ownerUpdateSigner(keys))),
        reason: "signature",
        detail: /Ed25519/,
      },
      {
        file: patched(
          bundle,
          join(scratch, "ml-dsa.bundle"),
          signaturesAt + ED25519_SIGNATURE_BYTES + 100,
          flip(signaturesAt + ED25519_SIGNATURE_BYTES + 100),
        ),
        reason: "signature",
        detail: /ML-DSA-65/,
      },
      {
        file: patched(
          bundle,
          join(scratch, "huge.bundle"),
          0,
          signedHead({ ...header, size: 2 ** 50 }, testUpdateSigner()),
        ),
        reason: "format",
        detail: /^the header says 1125899906842624 bytes/,
      },
    );
  }, BUILD_MS);
  afterEach(async () => {
    await vm?.stop();
    vm = null;
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  /**
   * Boots the disk with `extraDisks` (the bundle unless said); QEMU ends at the first reboot unless `reboots`;
   * `headless`: no display, so no trusted console.
   */
  const boot = async (name: string, extraDisks = [bundle], reboots = false, headless = false): Promise<Vm> => {
    vm = await Vm.boot({
      name,
      uefiDisk: disk,
      persistDisk: true,
      usbKeyboard: true,
      memoryMb: 2048,
      noReboot: !reboots,
      extraDisks,
      ...(headless ? { display: "none" as const } : {}),
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
    `${X} refuses forged bundles, writing nothing, offers ${Y} from the disk at the console and, approved, writes it into slot B and its UKI with 3 tries`,
    async () => {
      const before = diskState();
      const booted = await boot("update-offer", [...forged.map((f) => f.file), bundle]);
      expect(await booted.waitFor("bay0.ready", UEFI_BOOT_MS)).toMatchObject({ version: X, slot: "a" });
      const good = `disk vd${String.fromCharCode("b".charCodeAt(0) + forged.length)}`;
      const offered = await booted.waitFor("update.offered", UEFI_BOOT_MS);
      expect(offered).toMatchObject({ from: X, to: Y, source: good, size: statSync(bundle).size });
      const refused = booted.records.filter((r) => r.event === "update.refused");
      expect(refused.map((r) => [r.source, r.reason])).toEqual(
        forged.map((f, i) => [`disk vd${String.fromCharCode("b".charCodeAt(0) + i)}`, f.reason]),
      );
      forged.forEach((f, i) => expect(String(refused[i]?.detail)).toMatch(f.detail));
      // Checked whole before it is offered: the forged ones wrote nothing, and neither did this one yet.
      expect(diskState()).toEqual(before);
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
    `${Y}, blessed, boots by itself, headless: refuses its own bundle as no upgrade and installs ${Z} unasked; ${Z} is never healthy, is tried 3 times; then systemd-boot boots ${Y}, which logs the rollback, deletes ${Z} and refuses it from then on`,
    async () => {
      const failingBundle = join(failing, `anchor-${Z}.bundle`);
      const booted = await boot("update-rollback", [bundle, failingBundle], true, true);
      expect(await booted.waitFor("bay0.ready", UEFI_BOOT_MS)).toMatchObject({ version: Y, slot: "b" });
      expect(await booted.waitFor("update.refused", UEFI_BOOT_MS)).toMatchObject({
        reason: "downgrade",
        source: "disk vdb",
        detail: `${Y} is not newer than the running ${Y}`,
      });
      expect(await booted.waitFor("update.offered", UEFI_BOOT_MS)).toMatchObject({
        from: Y,
        to: Z,
        source: "disk vdc",
      });
      expect(booted.records.some((r) => r.event === "update.blessed")).toBe(false);
      // No console: the owner's signature decides, at once (so the disk is not compared here: the first test's is).
      expect(await booted.waitFor("update.installed", INSTALL_MS)).toMatchObject({
        version: Z,
        slot: "a",
        replaced: [`anchor_${X}.efi`],
      });
      expect(booted.records.some((r) => r.event === "console.absent")).toBe(true);
      expect(booted.records.some((r) => r.event === "console.prompt")).toBe(false);
      // The reset button, as someone without a screen restarts: everything the install wrote was synced before it said so.
      await booted.reset();
      const rolledBack = await booted.waitFor("update.rolled_back", UEFI_BOOT_MS * 5);
      expect(rolledBack).toMatchObject({ version: Z, entry: `anchor_${Z}+0-3.efi`, running: Y });
      const readies = booted.records.filter((r) => r.event === "bay0.ready").map((r) => [r.version, r.slot]);
      expect(readies).toEqual([[Y, "b"], ...Array.from({ length: 3 }, () => [Z, "a"]), [Y, "b"]]);
      const unhealthy = booted.records.filter((r) => r.event === "update.unhealthy");
      expect(unhealthy).toHaveLength(3);
      expect(String(unhealthy[0]?.reason)).toMatch(/absent/);
      // Back on Y, headless, the stick still in: Z is not installed again.
      expect(await booted.waitFor("update.refused", UEFI_BOOT_MS, (r) => r.reason === "rolled_back")).toMatchObject({
        source: "disk vdc",
        detail: `${Z} was rolled back on this machine before`,
      });
      expect(booted.records.some((r) => r.event === "update.blessed")).toBe(false);
      await booted.stop();
      expect(entries()).toEqual(["anchor-rolled-back.json", `anchor_${Y}.efi`]);
    },
    UEFI_BOOT_MS * 7,
  );

  it(
    `a power cut while ${Z}'s slot is written leaves ${Y} running; the next boot logs update.interrupted, and the same bundle, rolled back before but approved at the console, installs cleanly`,
    async () => {
      const stick = join(failing, `anchor-${Z}.bundle`);
      const cut = await boot("update-power-cut", [stick]);
      await screen.wait(new RegExp(`${Z.replaceAll(".", "\\.")} was rolled back here before`), UEFI_BOOT_MS);
      await chooseChoice(cut, screen, `Install ${Z}`);
      await cut.waitFor("update.installing", INSTALL_MS, (r) => Number(r.percent) >= 40);
      await cut.stop();
      expect(cut.records.some((r) => r.event === "update.installed")).toBe(false);
      expect(entries()).toEqual(["anchor-installing.json", "anchor-rolled-back.json", `anchor_${Y}.efi`]);

      const after = await boot("update-after-cut", [stick]);
      expect(await after.waitFor("bay0.ready", UEFI_BOOT_MS)).toMatchObject({ version: Y, slot: "b" });
      expect(await after.waitFor("update.interrupted", UEFI_BOOT_MS)).toMatchObject({
        version: Z,
        slot: "a",
        removed: [],
      });
      await screen.wait(new RegExp(`Update: Anchor OS ${Y.replaceAll(".", "\\.")} to`), UEFI_BOOT_MS);
      await chooseChoice(after, screen, `Install ${Z}`);
      expect(await after.waitFor("update.installed", INSTALL_MS)).toMatchObject({
        version: Z,
        slot: "a",
        replaced: [],
      });
      await after.stop();
      expect(entries()).toEqual(["anchor-rolled-back.json", `anchor_${Y}.efi`, `anchor_${Z}+3.efi`]);
    },
    UEFI_BOOT_MS * 3 + INSTALL_MS,
  );
});
