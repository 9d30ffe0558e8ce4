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
    args.push("--add-section", `${section.name}=${section.file}`, "--change-section-vma", `${section.name}=0x${vma.toString(16)}`);
    vma = alignUp(vma + section.size);
  }
  return [...args, stubFile, outFile];
}

/** SBAT: the stub's generation lines plus Anchor OS's own (revocation by generation number). */
export function mergeSbat(stubSbat: string, version: string, generation = 1): string {
  const lines = stubSbat.replace(/\0/g, "").split("\n").filter((l) => l.trim() !== "");
  return `${[...lines, `anchor,${generation},Anchor OS,anchor,${version},https://anchor-os.invalid/sbat`].join("\n")}\n`;
}
