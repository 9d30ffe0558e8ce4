import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { buildMinimalImage } from "../../uki/images.ts";
import { OUT, ROOT } from "./vm.ts";

const SOURCES = join(ROOT, "test", "rooms");
const IMAGE = join(OUT, "test", "images", "probe.squashfs");

const newest = (dir: string): number => Math.max(...readdirSync(dir).map((n) => statSync(join(dir, n)).mtimeMs));

/**
 * The "probe" base image for room tests: the minimal image plus the escape
 * catalogue (test/rooms/escape.c, compiled static) and the room-side
 * scripts of test/rooms/. Rebuilt when those sources change.
 */
export function probeImage(): { name: string; file: string } {
  if (!existsSync(IMAGE) || statSync(IMAGE).mtimeMs < newest(SOURCES)) {
    mkdirSync(join(OUT, "test", "images"), { recursive: true });
    const escape = join(OUT, "test", "escape");
    const cc = spawnSync("gcc", ["-static", "-O1", "-Wall", "-Werror", "-o", escape, join(SOURCES, "escape.c")], { encoding: "utf8" });
    if (cc.status !== 0) throw new Error(`compiling escape.c failed: ${cc.stderr}`);
    const scripts = readdirSync(SOURCES).filter((n) => n.endsWith(".sh"));
    buildMinimalImage(IMAGE, [
      { path: "probe/escape", source: escape, mode: 0o755 },
      ...scripts.map((n) => ({ path: `probe/${n}`, source: join(SOURCES, n), mode: 0o755 })),
    ]);
  }
  return { name: "probe", file: IMAGE };
}
