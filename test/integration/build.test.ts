import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PARTITION } from "../../rooms/boot-disk.ts";
import { diskPartitions } from "../../uki/disk.ts";
import { packageVersion } from "../../uki/version.ts";
import { OUT, ROOT } from "../qemu/vm.ts";

const sha256 = (path: string): string => createHash("sha256").update(readFileSync(path)).digest("hex");

/** Byte offsets where two equally long buffers differ, as [first, last] runs. */
function differences(a: Buffer, b: Buffer): [number, number][] {
  expect(a.length).toBe(b.length);
  const runs: [number, number][] = [];
  for (let i = 0; i < a.length; i++) {
    if (a[i] === b[i]) continue;
    const last = runs.at(-1);
    if (last !== undefined && i - last[1] <= 64) last[1] = i;
    else runs.push([i, i]);
  }
  return runs;
}

/**
 * What a signature changes in a PE image, as [start, end) ranges: the header
 * checksum (which sums the whole file, signature included) and the
 * certificate table (the security data directory).
 */
function signatureRanges(image: Buffer): [number, number][] {
  const pe = image.readUInt32LE(0x3c);
  const optional = pe + 24;
  const directories = optional + (image.readUInt16LE(optional) === 0x20b ? 112 : 96);
  const start = image.readUInt32LE(directories + 4 * 8);
  return [
    [optional + 64, optional + 68],
    [start, start + image.readUInt32LE(directories + 4 * 8 + 4)],
  ];
}

const inside = (ranges: [number, number][], first: number, last: number, shift = 0): boolean =>
  ranges.some(([start, end]) => first >= start + shift && last < end + shift);

describe("image build", () => {
  it("gives the same bytes when the same tree is built again from scratch, but for the signature's time", () => {
    const out = mkdtempSync(join(tmpdir(), "anchor-rebuild-"));
    try {
      const bun = join(ROOT, "node_modules", ".bin", "bun");
      const build = spawnSync(bun, [join(ROOT, "uki", "build.ts"), "--out", out], { encoding: "utf8" });
      expect(build.status, build.stderr).toBe(0);
      expect(build.stdout).toMatch(/initramfs: building/);
      // debootstrap dates each account's last password change: left in, a build after midnight differed.
      const shadow = spawnSync("unsquashfs", ["-cat", join(OUT, "images", "workshop.squashfs"), "etc/shadow"], {
        encoding: "utf8",
      });
      expect(shadow.stdout).toMatch(/^root:/);
      expect(shadow.stdout.split("\n").filter((line) => line !== "" && line.split(":")[2] !== "")).toEqual([]);
      for (const artifact of [
        "vmlinuz",
        "initramfs.img",
        "images/system.squashfs",
        "build/anchor-unsigned.efi",
        "images/minimal.squashfs",
      ]) {
        expect(sha256(join(out, artifact)), artifact).toBe(sha256(join(OUT, artifact)));
      }
      // The signed UKIs, and systemd-boot signed alike, differ only in their signatures, which carry the signing time,
      // and the checksum over them.
      const signed = (file: string) => {
        const built = readFileSync(join(OUT, file));
        const ranges = signatureRanges(built);
        expect(signatureRanges(readFileSync(join(out, file))), file).toEqual(ranges);
        for (const [first, last] of differences(built, readFileSync(join(out, file))))
          expect(inside(ranges, first, last), `${file} differs at ${first}..${last}`).toBe(true);
        return { built, ranges };
      };
      const { built: uki, ranges } = signed("anchor.efi");
      const { built: loader, ranges: loaderRanges } = signed("esp/EFI/BOOT/BOOTX64.EFI");
      for (const file of ["esp/loader/loader.conf", `esp/EFI/Linux/anchor_${packageVersion()}.efi`])
        expect(readFileSync(join(out, file)).length, file).toBeGreaterThan(0);
      // The disk images differ only there too: in the UKI's and systemd-boot's signatures on the ESP. (The unsigned UKI
      // pins the system image's root hash, and the system image every room image's: they matched above, so slot A is
      // the same.)
      const disk = readFileSync(join(OUT, "anchor.img"));
      const esp = diskPartitions(join(OUT, "anchor.img")).find((p) => p.label === PARTITION.esp.label);
      const ukiAt = disk.indexOf(uki.subarray(0, 65536), esp?.start ?? 0);
      expect(ukiAt).toBeGreaterThan(esp?.start ?? 0);
      const loaderAt = disk.indexOf(loader.subarray(0, 65536), esp?.start ?? 0);
      expect(loaderAt).toBeGreaterThan(esp?.start ?? 0);
      for (const [first, last] of differences(disk, readFileSync(join(out, "anchor.img")))) {
        expect(
          inside(ranges, first, last, ukiAt) || inside(loaderRanges, first, last, loaderAt),
          `anchor.img differs at ${first}..${last}`,
        ).toBe(true);
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
