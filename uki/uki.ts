import { createPublicKey } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bzImageRelease } from "../kernel/release.ts";
import { runHostTool } from "./host-tool.ts";
import { measuredPcr11, pcrSignature } from "./pcr-policy.ts";

/** systemd's EFI stub from Debian's systemd-boot-efi. */
export const STUB = "/usr/lib/systemd/boot/efi/linuxx64.efi.stub";
/** systemd-boot (Debian's systemd-boot-efi), which the build signs with the db key: the ESP's loader. */
export const LOADER = "/usr/lib/systemd/boot/efi/systemd-bootx64.efi";

/**
 * Assembles a Unified Kernel Image (UAPI UKI specification) from systemd's
 * EFI stub with objcopy: the stub's own sections stay, ours are appended
 * after them, each 4 KiB aligned. Debian 12 has no ukify; this is its core.
 */

export type PeSection = { name: string; vma: number; size: number };

export type UkiSection = { name: string; file: string; size: number };

const ALIGN = 4096;
const alignUp = (n: number): number => Math.ceil(n / ALIGN) * ALIGN;

/** Parses `objdump -h` output of a PE file into its sections. */
export function parseObjdumpSections(output: string): PeSection[] {
  const sections: PeSection[] = [];
  for (const line of output.split("\n")) {
    const m = /^\s*\d+\s+(\S+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+[0-9a-f]+\s+[0-9a-f]+\s+2\*\*\d+/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined && m[3] !== undefined) {
      sections.push({ name: m[1], size: Number.parseInt(m[2], 16), vma: Number.parseInt(m[3], 16) });
    }
  }
  return sections;
}

/**
 * The objcopy arguments that add `sections` to the stub, in order, at
 * aligned addresses after the stub's last section. Stub sections that we
 * replace (its .sbat, merged with ours by the caller) are removed first.
 */
export function ukiObjcopyArgs(stub: PeSection[], sections: UkiSection[], stubFile: string, outFile: string): string[] {
  const replaced = new Set(sections.map((s) => s.name));
  const kept = stub.filter((s) => !replaced.has(s.name));
  const end = Math.max(...kept.map((s) => s.vma + s.size));
  let vma = alignUp(end);
  const args: string[] = [...stub.filter((s) => replaced.has(s.name)).flatMap((s) => ["--remove-section", s.name])];
  for (const section of sections) {
    args.push(
      "--add-section",
      `${section.name}=${section.file}`,
      "--change-section-vma",
      `${section.name}=0x${vma.toString(16)}`,
    );
    vma = alignUp(vma + section.size);
  }
  return [...args, stubFile, outFile];
}

/** SBAT: the stub's generation lines plus Anchor OS's own (revocation by generation number). */
export function mergeSbat(stubSbat: string, version: string, generation = 1): string {
  const lines = stubSbat
    .replace(/\0/g, "")
    .split("\n")
    .filter((l) => l.trim() !== "");
  return `${[...lines, `anchor,${generation},Anchor OS,anchor,${version},https://anchor-os.invalid/sbat`].join("\n")}\n`;
}

/**
 * objcopy stamps PE images with the current time (and a checksum over it),
 * and Debian's binutils has no switch to stop it: zero the timestamp and
 * recompute the checksum, so the same inputs give the same UKI bytes.
 */
export function normalizePeHeader(image: Uint8Array): Uint8Array {
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const pe = view.getUint32(0x3c, true);
  if (view.getUint32(pe, true) !== 0x00004550) throw new Error("not a PE image (no PE signature)");
  const checksumAt = pe + 24 + 64;
  view.setUint32(pe + 8, 0, true);
  view.setUint32(checksumAt, 0, true);
  let sum = 0;
  for (let i = 0; i + 1 < image.length; i += 2) {
    sum += view.getUint16(i, true);
    sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  }
  if (image.length % 2 === 1) {
    sum += image[image.length - 1] ?? 0;
    sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  }
  view.setUint32(checksumAt, ((sum & 0xffff) + image.length) >>> 0, true);
  return image;
}

export type UkiInputs = {
  vmlinuz: string;
  initramfs: string;
  cmdline: string;
  osRelease: string;
  version: string;
  /** PEM of the RSA key that signs the PCR 11 policy (uki/sign.ts pcrSigningKey). */
  pcrKey: string;
};

/**
 * Writes an unsigned UKI to `output`: .osrel, .cmdline, .uname, .sbat, .linux,
 * .initrd and .pcrpkey on the stub, then .pcrsig, the signed policy for the
 * PCR 11 those sections produce (uki/pcr-policy.ts).
 */
export function assembleUki(inputs: UkiInputs, output: string): void {
  const scratch = mkdtempSync(join(tmpdir(), "anchor-uki-"));
  try {
    const file = (name: string, content: string): string => {
      const path = join(scratch, name);
      writeFileSync(path, content);
      return path;
    };
    const stubSbat = join(scratch, "stub.sbat");
    runHostTool(["objcopy", "-O", "binary", "--only-section=.sbat", STUB, stubSbat]);
    const sections = [
      { name: ".osrel", file: file("osrel", inputs.osRelease) },
      { name: ".cmdline", file: file("cmdline", inputs.cmdline) },
      { name: ".uname", file: file("uname", bzImageRelease(readFileSync(inputs.vmlinuz))) },
      { name: ".sbat", file: file("sbat", mergeSbat(readFileSync(stubSbat, "utf8"), inputs.version)) },
      { name: ".linux", file: inputs.vmlinuz },
      { name: ".initrd", file: inputs.initramfs },
      {
        name: ".pcrpkey",
        file: file("pcrpkey", createPublicKey(inputs.pcrKey).export({ type: "spki", format: "pem" }).toString()),
      },
    ];
    const measured = new Map(sections.map((s) => [s.name, readFileSync(s.file)]));
    sections.push({ name: ".pcrsig", file: file("pcrsig", pcrSignature(measuredPcr11(measured), inputs.pcrKey)) });
    const sized = sections.map((s) => ({ ...s, size: statSync(s.file).size }));
    runHostTool([
      "objcopy",
      ...ukiObjcopyArgs(parseObjdumpSections(runHostTool(["objdump", "-h", STUB])), sized, STUB, output),
    ]);
    writeFileSync(output, normalizePeHeader(readFileSync(output)));
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
