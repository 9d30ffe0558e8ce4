import { spawnSync } from "node:child_process";
import { createDecipheriv } from "node:crypto";
import {
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  readSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { parseGpt, PARTITION } from "../../rooms/boot-disk.ts";
import { BASE_CMDLINE, systemPin } from "../../uki/cmdline.ts";
import { buildDiskImage, slotManifest } from "../../uki/disk.ts";
import { packageVersion } from "../../uki/version.ts";
import { osRelease } from "../../uki/initramfs.ts";
import { sign, signingKey } from "../../uki/sign.ts";
import { assembleUki } from "../../uki/uki.ts";
import { testOverlay } from "./overlay.ts";
import { OUT } from "./paths.ts";
import { BUILT_LOADER, builtImages, probeImage, testSystem } from "./probe-image.ts";
import { withOverlay } from "./vm.ts";

const LBA = 512;
const DISK_BYTES = 1536 * 1024 * 1024;

const images = () => [...builtImages(), probeImage()];

/**
 * A UKI signed like out/anchor.efi (the snakeoil key in tests) but pinning
 * the test system image (the test build of bay0) and carrying the test
 * policies and the test port, with `extra` on its command line and its PCR
 * 11 policy signed with `pcrKey`.
 */
export function vaultTestUki(scratch: string, output: string, extra: string[], pcrKey: string): void {
  const initramfs = join(scratch, "initramfs.img");
  if (!existsSync(initramfs)) {
    const pin = {
      kind: "file" as const,
      path: "etc/anchor/images.json",
      mode: 0o644,
      data: Buffer.from(JSON.stringify(slotManifest(images()))),
    };
    withOverlay(join(OUT, "initramfs.img"), [...testOverlay({ roomPolicies: true }), pin], initramfs);
  }
  const version = packageVersion();
  const unsigned = join(scratch, "unsigned.efi");
  const cmdline = [...BASE_CMDLINE, systemPin(testSystem().verity), "anchor.run=/test/forward.sh", ...extra].join(" ");
  assembleUki(
    { vmlinuz: join(OUT, "vmlinuz"), initramfs, cmdline, osRelease: osRelease(version), version, pcrKey },
    unsigned,
  );
  sign(unsigned, output, signingKey(null, scratch));
}

/**
 * An Anchor disk of 1.5 GiB (the vault grows into it at the first boot: room for the 256 MiB file a power
 * cut may leave whole, and another) with `uki` on its ESP, the test images and the test system image in slot A.
 */
export function vaultTestDisk(output: string, uki: string): void {
  buildDiskImage({
    output,
    esp: { loader: BUILT_LOADER, uki, version: packageVersion() },
    images: images(),
    system: testSystem(),
    seed: "vault-test",
  });
  truncateSync(output, DISK_BYTES);
}
const HEADER_BYTES = 16 * 1024 * 1024;
const CHUNK = 16 * 1024 * 1024;

function run(argv: string[], input = ""): string {
  const result = spawnSync(argv[0] ?? "", argv.slice(1), { input, encoding: "utf8" });
  if (result.status !== 0) throw new Error(`${argv.join(" ")}: ${result.stderr}`);
  return result.stdout;
}

/** Puts `file` on the ESP of the disk image as `path` (`EFI/Linux/…`), in place of what was there, as an update would. */
export function putOnEsp(disk: string, file: string, path: string): void {
  const esp = diskPartition(disk, PARTITION.esp.label);
  const copied = spawnSync("mcopy", ["-o", "-i", `${disk}@@${esp.offset}`, file, `::/${path}`], {
    encoding: "utf8",
    env: { ...process.env, MTOOLS_SKIP_CHECK: "1" },
  });
  if (copied.status !== 0) throw new Error(`mcopy ${path}: ${copied.stderr}`);
}

/** A partition of an Anchor disk image, by its label: its byte offset and length. */
export function diskPartition(disk: string, label: string): { offset: number; bytes: number } {
  const fd = openSync(disk, "r");
  try {
    const head = Buffer.alloc(1024 * 1024);
    readSync(fd, head, 0, head.length, 0);
    const table = parseGpt(head, LBA);
    if (!table.ok) throw new Error(table.error);
    const found = table.partitions.find((p) => p.label === label);
    if (found === undefined) throw new Error(`no ${label} partition`);
    return { offset: Number(found.firstLba) * LBA, bytes: (Number(found.lastLba) - Number(found.firstLba) + 1) * LBA };
  } finally {
    closeSync(fd);
  }
}

export const vaultPartition = (disk: string): { offset: number; bytes: number } =>
  diskPartition(disk, PARTITION.vault.label);

/** The vault's LUKS2 header and keyslots (the partition's first 16 MiB), copied to `file`, which cryptsetup reads alone. */
export function vaultHeader(disk: string, file: string): string {
  const { offset } = vaultPartition(disk);
  const fd = openSync(disk, "r");
  try {
    const header = Buffer.alloc(HEADER_BYTES);
    readSync(fd, header, 0, header.length, offset);
    writeFileSync(file, header);
    return file;
  } finally {
    closeSync(fd);
  }
}

/**
 * Opens the vault of a disk image on a host without device-mapper (these
 * machines have none): cryptsetup, given the recovery key, dumps the volume
 * key; Node's AES-XTS decrypts the data segment as dm-crypt's plain64 IVs
 * lay it out; debugfs (e2fsprogs) reads the ext4 inside. No Anchor code reads
 * the disk, so what it finds is what any Linux with the key would find.
 */
export function openVaultOnHost(
  disk: string,
  recoveryKey: string,
  scratch: string,
): { list(dir: string): Map<string, number>; read(path: string): Buffer } {
  const header = vaultHeader(disk, join(scratch, "host-vault-header.img"));
  const dump = run(
    ["cryptsetup", "luksDump", "--dump-volume-key", "--batch-mode", "--key-file=-", header],
    recoveryKey,
  );
  const key = Buffer.from((/MK dump:([\s0-9a-f]+)/.exec(dump)?.[1] ?? "").replace(/\s+/g, ""), "hex");
  const segments = run(["cryptsetup", "luksDump", header]);
  const segment = /offset: (\d+) \[bytes\][\s\S]*?cipher: (\S+)\s+sector: (\d+) \[bytes\]/.exec(segments);
  if (segment === null || segment[2] !== "aes-xts-plain64" || key.length !== 64)
    throw new Error(`unexpected LUKS2 segment: ${segments}`);
  const dataOffset = Number(segment[1]);
  const sector = Number(segment[3]);
  const { offset, bytes } = vaultPartition(disk);
  const plain = join(scratch, "host-vault-data.img");
  const input = openSync(disk, "r");
  const output = openSync(plain, "w");
  try {
    const buffer = Buffer.alloc(CHUNK);
    for (let at = 0; at < bytes - dataOffset; at += CHUNK) {
      const length = Math.min(CHUNK, bytes - dataOffset - at);
      readSync(input, buffer, 0, length, offset + dataOffset + at);
      for (let s = 0; s < length; s += sector) {
        const iv = Buffer.alloc(16);
        // plain64: the sector's number in 512-byte units, little-endian.
        iv.writeBigUInt64LE(BigInt((at + s) / LBA));
        const decipher = createDecipheriv("aes-256-xts", key, iv);
        const out = Buffer.concat([decipher.update(buffer.subarray(s, s + sector)), decipher.final()]);
        writeSync(output, out, 0, out.length, at + s);
      }
    }
  } finally {
    closeSync(input);
    closeSync(output);
  }
  const debugfs = (request: string): string => run(["debugfs", "-R", request, plain]);
  return {
    list(dir) {
      const files = new Map<string, number>();
      for (const line of debugfs(`ls -l ${dir}`).split("\n")) {
        const fields = line.trim().split(/\s+/);
        const name = fields.at(-1);
        // debugfs ls -l: inode, mode, (links), uid, gid, size, date, time, name; directories are skipped.
        if (name === undefined || name === "." || name === ".." || !/^100/.test(fields[1] ?? "")) continue;
        files.set(name, Number(fields[5]));
      }
      return files;
    },
    read(path) {
      const out = join(scratch, "host-vault-file");
      debugfs(`dump ${path} ${out}`);
      return readFileSync(out);
    },
  };
}
