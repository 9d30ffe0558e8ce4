/**
 * Base images for rooms: read-only squashfs files in out/images/. Every
 * file is owned by the first uid of the rooms' user-namespace range
 * (ROOM_ID_MAP), which a room sees as its own root.
 */
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOM_ID_MAP } from "../rooms/plan.ts";
import { compileStaticC, runHostTool } from "./host-tool.ts";

/** Packs a directory tree into a reproducible squashfs owned by the rooms' root. */
export function packSquashfs(tree: string, output: string): void {
  runHostTool([
    "mksquashfs",
    tree,
    output,
    "-noappend",
    "-comp",
    "zstd",
    "-all-time",
    "0",
    "-mkfs-time",
    "0",
    "-force-uid",
    String(ROOM_ID_MAP.hostId),
    "-force-gid",
    String(ROOM_ID_MAP.hostId),
    "-quiet",
    "-no-progress",
  ]);
}

const ANCHORCTL_SOURCE = join(import.meta.dirname, "..", "umbilical", "anchorctl.c");

/** anchorctl, the rooms' umbilical client (umbilical/anchorctl.c), static, at /usr/bin/anchorctl in `tree`. */
function addAnchorctl(tree: string): void {
  mkdirSync(join(tree, "usr", "bin"), { recursive: true, mode: 0o755 });
  compileStaticC(join(tree, "usr", "bin", "anchorctl"), ANCHORCTL_SOURCE);
  chmodSync(join(tree, "usr", "bin", "anchorctl"), 0o755);
}

/** A file to add to an image tree: `path` inside the image, content from the host's `source`. */
export type ExtraFile = { path: string; source: string; mode: number };

/** The minimal image: Debian's busybox-static and nothing else (tests add their probes as `extra`). */
export function buildMinimalImage(output: string, extra: ExtraFile[] = [], busybox = "/bin/busybox"): void {
  const tree = mkdtempSync(join(tmpdir(), "anchor-minimal-"));
  try {
    chmodSync(tree, 0o755);
    for (const dir of [
      "bin",
      "sbin",
      "usr/bin",
      "usr/sbin",
      "etc",
      "proc",
      "sys",
      "dev",
      "run",
      "root",
      "home",
      "var",
      "tmp",
    ]) {
      mkdirSync(join(tree, dir), { recursive: true, mode: 0o755 });
    }
    chmodSync(join(tree, "tmp"), 0o1777);
    copyFileSync(busybox, join(tree, "bin", "busybox"));
    chmodSync(join(tree, "bin", "busybox"), 0o755);
    for (const applet of runHostTool([busybox, "--list-full"])
      .split("\n")
      .filter((l) => l !== "")) {
      if (applet === "bin/busybox") continue;
      const depth = applet.split("/").length - 1;
      symlinkSync(`${"../".repeat(depth)}bin/busybox`, join(tree, applet));
    }
    writeFileSync(
      join(tree, "etc", "passwd"),
      "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/tmp:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    );
    writeFileSync(join(tree, "etc", "group"), "root:x:0:\nuser:x:1000:\nnogroup:x:65534:\n");
    addAnchorctl(tree);
    for (const file of extra) {
      mkdirSync(join(tree, file.path, ".."), { recursive: true });
      copyFileSync(file.source, join(tree, file.path));
      chmodSync(join(tree, file.path), file.mode);
    }
    packSquashfs(tree, output);
  } finally {
    rmSync(tree, { recursive: true, force: true });
  }
}

/** The Debian mirror this host's apt uses (first URIs: of its deb822 sources): the workshop comes from there. */
export function hostDebianMirror(sources = "/etc/apt/sources.list.d/debian.sources"): string {
  let text = "";
  try {
    text = readFileSync(sources, "utf8");
  } catch {
    throw new Error(`cannot read ${sources}: the workshop image is debootstrapped from this host's Debian mirror`);
  }
  const mirror = /^URIs:\s*(\S+)/m.exec(text)?.[1];
  if (mirror === undefined) throw new Error(`no URIs: line in ${sources}`);
  return mirror;
}

/**
 * /etc/shadow without the day each password was last changed, which
 * debootstrap stamps with the build's date: a build on either side of
 * midnight gave another image, and another initramfs, which pins its hash.
 * An empty field turns ageing off, as for these locked system accounts.
 */
export function undatedShadow(shadow: string): string {
  return shadow.replace(/^([^:\n]*:[^:\n]*:)[^:\n]*/gm, "$1");
}

/**
 * The workshop image: a minimal Debian 12 userland (debootstrap minbase)
 * for the developer's room, where root (in its user namespace) may install
 * anything into its own writable layer. Logs and caches are left out.
 */
export function buildWorkshopImage(output: string, mirror: string): void {
  const tree = mkdtempSync(join(tmpdir(), "anchor-workshop-"));
  try {
    runHostTool(["debootstrap", "--variant=minbase", "bookworm", tree, mirror]);
    for (const dir of ["var/log", "var/cache/apt", "var/lib/apt/lists", "var/cache/ldconfig"]) {
      rmSync(join(tree, dir), { recursive: true, force: true });
      mkdirSync(join(tree, dir), { recursive: true, mode: 0o755 });
    }
    const shadow = join(tree, "etc", "shadow");
    writeFileSync(shadow, undatedShadow(readFileSync(shadow, "utf8")));
    chmodSync(tree, 0o755);
    addAnchorctl(tree);
    packSquashfs(tree, output);
  } finally {
    rmSync(tree, { recursive: true, force: true });
  }
}
