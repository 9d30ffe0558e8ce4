import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { imageManifestSchema, type ImageManifest } from "../../rooms/images.ts";
import { buildDiskImage, slotManifest, type Slot, type SystemImage, type VerityImage } from "../../uki/disk.ts";
import { buildMinimalImage } from "../../uki/images.ts";
import { readSystemVerity } from "../../uki/system-image.ts";
import { formatVerity } from "../../uki/verity.ts";
import { OUT, ROOT } from "./paths.ts";

const SOURCES = join(ROOT, "test", "rooms");
const IMAGE = join(OUT, "test", "images", "probe.squashfs");
const ENTRY = join(OUT, "test", "images", "probe.json");

const newest = (dir: string): number => Math.max(...readdirSync(dir).map((n) => statSync(join(dir, n)).mtimeMs));

/**
 * The "probe" base image for room tests: the minimal image plus the room-side
 * programs of test/rooms/ (the escape catalogue escape.c and the others,
 * compiled static) and its scripts. Rebuilt when those sources change.
 */
export function probeImage(): VerityImage {
  if (
    !existsSync(ENTRY) ||
    statSync(ENTRY).mtimeMs < Math.max(newest(SOURCES), statSync(join(ROOT, "umbilical", "anchorctl.c")).mtimeMs)
  ) {
    mkdirSync(join(OUT, "test", "images"), { recursive: true });
    const programs = readdirSync(SOURCES)
      .filter((n) => n.endsWith(".c"))
      .map((n) => n.replace(/\.c$/, ""));
    for (const program of programs) {
      const cc = spawnSync(
        "gcc",
        ["-static", "-O1", "-Wall", "-Werror", "-o", join(OUT, "test", program), join(SOURCES, `${program}.c`)],
        { encoding: "utf8" },
      );
      if (cc.status !== 0) throw new Error(`compiling ${program}.c failed: ${cc.stderr}`);
    }
    const scripts = readdirSync(SOURCES).filter((n) => n.endsWith(".sh"));
    buildMinimalImage(IMAGE, [
      ...programs.map((p) => ({ path: `probe/${p}`, source: join(OUT, "test", p), mode: 0o755 })),
      ...scripts.map((n) => ({ path: `probe/${n}`, source: join(SOURCES, n), mode: 0o755 })),
    ]);
    writeFileSync(ENTRY, JSON.stringify(formatVerity(IMAGE)));
  }
  return { name: "probe", file: IMAGE, verity: JSON.parse(readFileSync(ENTRY, "utf8")) as VerityImage["verity"] };
}

/** A copy of a verity image with one byte of its data flipped, pinned with the original's root hash. */
export function corruptedCopy(name: string, original: VerityImage): VerityImage {
  const bytes = readFileSync(original.file);
  const at = Math.floor(original.verity.hash_offset / 2);
  bytes.writeUInt8((bytes.readUInt8(at) ^ 0x01) & 0xff, at);
  const file = join(OUT, "test", "images", `${name}.squashfs`);
  writeFileSync(file, bytes);
  return { name, file, verity: original.verity };
}

/** The images `npm run build` made (out/images), with their verity parameters. */
export function builtImages(): VerityImage[] {
  const manifest = imageManifestSchema.parse(JSON.parse(readFileSync(join(OUT, "images", "manifest.json"), "utf8")));
  return Object.entries(manifest).map(([name, { offset: _offset, ...verity }]) => ({
    name,
    file: join(OUT, "images", `${name}.squashfs`),
    verity,
  }));
}

/** The build's systemd-boot, signed as the UKI is (the snakeoil key in tests), as out/esp holds it. */
export const BUILT_LOADER = join(OUT, "esp", "EFI", "BOOT", "BOOTX64.EFI");

/** The system image `npm run build` made (out/images/system.squashfs), as the release UKI pins it. */
export const builtSystem = (): SystemImage => ({
  file: join(OUT, "images", "system.squashfs"),
  verity: readSystemVerity(OUT),
});

/** The system image with the test-hooks build of bay0 (`npm run build -- --test-hooks`), which test boots pin. */
export const testSystem = (): SystemImage => ({
  file: join(OUT, "test", "system.squashfs"),
  verity: JSON.parse(readFileSync(join(OUT, "test", "system.json"), "utf8")) as SystemImage["verity"],
});

/**
 * A disk for a direct test boot: the Anchor layout with `images` in slot A,
 * `system` in its system partition and an empty ESP, plus the manifest that
 * pins the images (the test overlay carries it in place of the built one).
 */
export function testDisk(
  file: string,
  images: VerityImage[],
  system: SystemImage | null = null,
  slot: Slot = "a",
): { file: string; manifest: ImageManifest } {
  buildDiskImage({ output: file, esp: null, images, system, seed: file, slot });
  return { file, manifest: slotManifest(images) };
}
