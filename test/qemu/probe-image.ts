import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ImageManifest, ImageManifestEntry } from "../../rooms/images.ts";
import { buildMinimalImage } from "../../uki/images.ts";
import { formatVerity } from "../../uki/verity.ts";
import { OUT, ROOT } from "./vm.ts";

const SOURCES = join(ROOT, "test", "rooms");
const IMAGE = join(OUT, "test", "images", "probe.squashfs");
const ENTRY = join(OUT, "test", "images", "probe.json");

export type TestImage = { name: string; file: string; entry: ImageManifestEntry };

const newest = (dir: string): number => Math.max(...readdirSync(dir).map((n) => statSync(join(dir, n)).mtimeMs));

/**
 * The "probe" base image for room tests: the minimal image plus the escape
 * catalogue (test/rooms/escape.c, compiled static) and the room-side
 * scripts of test/rooms/. Rebuilt when those sources change.
 */
export function probeImage(): TestImage {
  if (!existsSync(ENTRY) || statSync(ENTRY).mtimeMs < newest(SOURCES)) {
    mkdirSync(join(OUT, "test", "images"), { recursive: true });
    const escape = join(OUT, "test", "escape");
    const cc = spawnSync("gcc", ["-static", "-O1", "-Wall", "-Werror", "-o", escape, join(SOURCES, "escape.c")], { encoding: "utf8" });
    if (cc.status !== 0) throw new Error(`compiling escape.c failed: ${cc.stderr}`);
    const scripts = readdirSync(SOURCES).filter((n) => n.endsWith(".sh"));
    buildMinimalImage(IMAGE, [
      { path: "probe/escape", source: escape, mode: 0o755 },
      ...scripts.map((n) => ({ path: `probe/${n}`, source: join(SOURCES, n), mode: 0o755 })),
    ]);
    writeFileSync(ENTRY, JSON.stringify(formatVerity(IMAGE)));
  }
  return { name: "probe", file: IMAGE, entry: JSON.parse(readFileSync(ENTRY, "utf8")) as ImageManifestEntry };
}

/** A copy of a verity image with one byte of its data flipped, pinned with the original's root hash. */
export function corruptedCopy(name: string, original: TestImage): TestImage {
  const bytes = readFileSync(original.file);
  const at = Math.floor(original.entry.hash_offset / 2);
  bytes.writeUInt8((bytes.readUInt8(at) ^ 0x01) & 0xff, at);
  const file = join(OUT, "test", "images", `${name}.squashfs`);
  writeFileSync(file, bytes);
  return { name, file, entry: original.entry };
}

/** The built image manifest (out/images/manifest.json) plus test images: what the test overlay pins. */
export function manifestWith(images: TestImage[]): ImageManifest {
  const built = JSON.parse(readFileSync(join(OUT, "images", "manifest.json"), "utf8")) as ImageManifest;
  return { ...built, ...Object.fromEntries(images.map((i) => [i.name, i.entry])) };
}
