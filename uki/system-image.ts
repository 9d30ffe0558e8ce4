/**
 * The system image: everything PID 1 runs, as one read-only squashfs with a
 * dm-verity hash tree appended. The build writes it into a slot's
 * `anchor-system-*` partition and pins it by root hash on the UKI's signed
 * command line (`anchor.system=`, uki/cmdline.ts); preinit maps it through
 * dm-verity and makes it the root. It holds bay0 (as a plain file: squashfs
 * compresses it, and only the pages bay0 runs are read), crun and the
 * libraries both link, the policies, the rooms' image manifest, the font,
 * the rooms' seccomp profile and the vault's tools. The stock-kernel build,
 * which cannot map it before its modules are loaded, carries the same files
 * in its initramfs instead.
 */
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { CONSOLE_FONT } from "../console/font.ts";
import {
  AUTOSTART_FILE,
  BAY0,
  IMAGE_MANIFEST,
  inImage,
  POLICY_DIR,
  SECCOMP_PROFILE,
  SECURE_BOOT_CERT,
  UPDATE_KEYS,
} from "../init/layout.ts";
import type { ImageManifestEntry } from "../rooms/images.ts";
import { withParents, type CpioEntry } from "./cpio.ts";
import { runHostTool } from "./host-tool.ts";
import { hostFile, osRelease, parseLdd, skeleton } from "./initramfs.ts";
import { formatVerity } from "./verity.ts";
import { vaultToolEntries, vaultToolInputs } from "./vault-tools.ts";

const ROOT = join(import.meta.dirname, "..");
const CRUN = "/usr/bin/crun";
/** The rooms' seccomp base profile, pinned in the tree (rooms/seccomp-base/README.md). */
const SECCOMP_BASE = join(ROOT, "rooms", "seccomp-base", "containers-common.json");
const POLICY_SOURCES = join(ROOT, "policies");
/** The trusted console's font ships with its copyright file. */
const CONSOLE_FONT_COPYRIGHT = "/usr/share/doc/fonts-spleen/copyright";
/** Rooms bay0 starts at boot unless anchor.autostart= says otherwise. */
export const AUTOSTART = ["web", "work"];

/**
 * How the system image is packed, chosen by measurement for bay0 (README,
 * "Footprint"): zstd 19 in 1 MiB blocks. xz (BCJ x86) is 3.5 MB smaller but
 * boots 5 s slower under TCG; 256 KiB blocks are larger and no faster.
 */
export const SYSTEM_SQUASHFS = ["-comp", "zstd", "-Xcompression-level", "19", "-b", "1M"];

export type SystemVerity = Omit<ImageManifestEntry, "offset">;

/** Where `npm run build` records the system image's verity parameters, under its output directory. */
export const SYSTEM_VERITY_RECORD = join("build", "system.verity.json");

/** The built system image's verity parameters (what the UKI pins), from an output directory. */
export const readSystemVerity = (out: string): SystemVerity =>
  JSON.parse(readFileSync(join(out, SYSTEM_VERITY_RECORD), "utf8")) as SystemVerity;

export function policyFiles(): string[] {
  return readdirSync(POLICY_SOURCES)
    .filter((f) => f.endsWith(".toml"))
    .sort()
    .map((f) => join(POLICY_SOURCES, f));
}

/** The host files the system image is made of, besides bay0 and the manifest (a build step's inputs). */
export function systemInputFiles(): string[] {
  return [
    CRUN,
    SECCOMP_BASE,
    CONSOLE_FONT,
    CONSOLE_FONT_COPYRIGHT,
    ...policyFiles(),
    ...vaultToolInputs(),
    join(ROOT, "uki", "system-image.ts"),
    // The os-release text (osRelease).
    join(ROOT, "uki", "initramfs.ts"),
    join(ROOT, "uki", "vault-tools.ts"),
    join(ROOT, "init", "layout.ts"),
  ];
}

/** What the system holds, as entries at their paths (also what the stock kernel's initramfs carries). */
export function systemEntries(inputs: {
  bay0: string;
  imageManifest: string;
  version: string;
  /** The update keys' file (update/pinned-keys.ts). */
  updateKeys: string;
  /** The Secure Boot certificate (PEM) the build signs with. */
  dbCert: string;
}): CpioEntry[] {
  const libraries = [...new Set([inputs.bay0, CRUN].flatMap((bin) => parseLdd(runHostTool(["ldd", bin]))))].sort();
  return [
    ...skeleton().filter((entry) => entry.kind === "dir"),
    // Readable by the courier, which runs this same executable as a room's user.
    hostFile(inputs.bay0, 0o755, inImage(BAY0)),
    hostFile(CRUN, 0o755, "usr/bin/crun"),
    ...libraries.map((lib) => hostFile(lib)),
    hostFile(inputs.imageManifest, 0o644, inImage(IMAGE_MANIFEST)),
    hostFile(SECCOMP_BASE, 0o644, inImage(SECCOMP_PROFILE)),
    hostFile(CONSOLE_FONT, 0o644, CONSOLE_FONT.slice(1)),
    hostFile(CONSOLE_FONT_COPYRIGHT, 0o644, CONSOLE_FONT_COPYRIGHT.slice(1)),
    ...policyFiles().map((file) => hostFile(file, 0o644, `${inImage(POLICY_DIR)}/${file.split("/").pop() ?? ""}`)),
    { kind: "file", path: inImage(AUTOSTART_FILE), mode: 0o644, data: Buffer.from(`${AUTOSTART.join("\n")}\n`) },
    { kind: "file", path: "etc/os-release", mode: 0o644, data: Buffer.from(osRelease(inputs.version)) },
    { kind: "file", path: inImage(UPDATE_KEYS), mode: 0o644, data: Buffer.from(inputs.updateKeys) },
    hostFile(inputs.dbCert, 0o644, inImage(SECURE_BOOT_CERT)),
    ...vaultToolEntries(),
  ];
}

/** Lays `entries` out under `dir` (device nodes are devtmpfs's, never the image's). */
function writeTree(entries: CpioEntry[], dir: string): void {
  chmodSync(dir, 0o755);
  for (const entry of withParents(entries).sort((a, b) => (a.path < b.path ? -1 : 1))) {
    const path = join(dir, entry.path);
    if (entry.kind === "dir") {
      mkdirSync(path, { recursive: true });
      chmodSync(path, entry.mode);
    } else if (entry.kind === "file") {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, entry.data, { mode: entry.mode });
      chmodSync(path, entry.mode);
    } else if (entry.kind === "symlink") symlinkSync(entry.target, path);
  }
}

/** The system image at `output`, its hash tree appended: its verity parameters. */
export function buildSystemImage(entries: CpioEntry[], output: string): SystemVerity {
  const tree = mkdtempSync(join(tmpdir(), "anchor-system-"));
  try {
    writeTree(entries, tree);
    runHostTool([
      "mksquashfs",
      tree,
      output,
      "-noappend",
      ...SYSTEM_SQUASHFS,
      "-no-xattrs",
      "-all-root",
      "-all-time",
      "0",
      "-mkfs-time",
      "0",
      "-quiet",
      "-no-progress",
    ]);
  } finally {
    rmSync(tree, { recursive: true, force: true });
  }
  return formatVerity(output);
}
