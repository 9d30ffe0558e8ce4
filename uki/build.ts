/**
 * `npm run build`: builds Anchor OS into out/ through named, cached steps.
 * Artifacts (a public interface):
 *   out/vmlinuz         the kernel: the hardened build (kernel/), or Debian's with --stock-kernel
 *   out/initramfs.img   zstd-compressed cpio: preinit, bay0, its libraries (+ modules for the stock kernel)
 *   out/anchor.efi      the signed Unified Kernel Image (kernel + initramfs + command line + os-release)
 *   out/esp/            an EFI System Partition tree that boots it (EFI/BOOT/BOOTX64.EFI)
 *   out/images/NAME.squashfs   base images for rooms, dm-verity hash tree appended:
 *                              minimal (busybox), workshop (Debian); and vault-tools, the vault's programs
 *   out/images/manifest.json   their verity parameters and places in slot A (the initramfs carries it)
 *   out/anchor.img      the GPT disk a machine boots: ESP, images slot A, empty slot B, vault (uki/disk.ts)
 * Options:
 *   --test-hooks        also compile out/test/bay0, bay0 with fault-injection hooks for the tests
 *   --stock-kernel      use Debian's stock kernel (fast fallback; needs modules, weaker hardening)
 *   --keys DIR          sign with the owner's db.key/db.crt from DIR (default: Debian's snakeoil test key)
 *   --out DIR           build into DIR instead of out/ (reproducibility checks)
 */
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { z } from "zod";
import { buildHardenedKernel, kernelCacheKey } from "../kernel/build.ts";
import { runHostTool } from "./host-tool.ts";
import { findStockKernel, parseShowDepends, STOCK_MODULES } from "../kernel/stock.ts";
import { BASE_CMDLINE } from "./cmdline.ts";
import { appendArchive, writeCpio, type CpioEntry } from "./cpio.ts";
import { buildMinimalImage, buildWorkshopImage, hostDebianMirror } from "./images.ts";
import { formatVerity } from "./verity.ts";
import { buildDiskImage, slotManifest, type VerityImage } from "./disk.ts";
import { hostFile, osRelease, parseLdd, skeleton } from "./initramfs.ts";
import { pcrSigningKey, sign, signingKey } from "./sign.ts";
import { progress, runStep, type Step } from "./steps.ts";
import { assembleUki, STUB } from "./uki.ts";
import { buildVaultTools, vaultToolInputs } from "./vault-tools.ts";

const ROOT = join(import.meta.dir, "..");
const RUNTIME_DIRS = ["init", "sys", "rooms", "vault", "courier", "policies"];
const ZSTD_LEVEL = "-19";
const CRUN = "/usr/bin/crun";
/** The rooms' seccomp base profile, pinned in the tree (rooms/seccomp-base/README.md). */
const SECCOMP_PROFILE = join(ROOT, "rooms", "seccomp-base", "containers-common.json");
const POLICY_DIR = join(ROOT, "policies");
/** The trusted console's font: Debian's fonts-spleen (BSD-2-Clause), shipped with its copyright file. */
const CONSOLE_FONT = "/usr/share/consolefonts/spleen-16x32.psfu.gz";
const CONSOLE_FONT_COPYRIGHT = "/usr/share/doc/fonts-spleen/copyright";
/** Rooms bay0 starts at boot unless anchor.autostart= says otherwise. */
const AUTOSTART = ["web", "work"];

const cliSchema = z.array(z.string()).transform((args, ctx) => {
  const parsed = { testHooks: false, stockKernel: false, keys: null as string | null, out: join(ROOT, "out") };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const value = args[i + 1];
    const hasValue = value !== undefined && !value.startsWith("--");
    if (arg === "--test-hooks") parsed.testHooks = true;
    else if (arg === "--stock-kernel") parsed.stockKernel = true;
    else if (arg === "--out" && hasValue) parsed.out = resolve(args[++i] ?? "");
    else if (arg === "--keys" && hasValue) parsed.keys = resolve(args[++i] ?? "");
    else ctx.addIssue({ code: "custom", message: `unknown or incomplete argument '${arg}' (expected --test-hooks, --stock-kernel, --keys DIR or --out DIR)` });
  }
  return parsed;
});

const cli = cliSchema.safeParse(process.argv.slice(2));
if (!cli.success) {
  process.stderr.write(`[build] ${cli.error.issues.map((i) => i.message).join("; ")}\n`);
  process.exit(2);
}
const { out: OUT, testHooks, stockKernel, keys } = cli.data;
const WORK = join(OUT, "build");

const paths = {
  vmlinuz: join(OUT, "vmlinuz"),
  initramfs: join(OUT, "initramfs.img"),
  uki: join(OUT, "anchor.efi"),
  espBoot: join(OUT, "esp", "EFI", "BOOT", "BOOTX64.EFI"),
  preinit: join(WORK, "preinit"),
  bay0: join(WORK, "bay0"),
  cpio: join(WORK, "initramfs.cpio"),
  unsignedUki: join(WORK, "anchor-unsigned.efi"),
  bay0Image: join(WORK, "bay0.squashfs"),
  testBay0: join(OUT, "test", "bay0"),
  testBay0Image: join(OUT, "test", "bay0.squashfs"),
  minimalImage: join(OUT, "images", "minimal.squashfs"),
  workshopImage: join(OUT, "images", "workshop.squashfs"),
  imageManifest: join(OUT, "images", "manifest.json"),
  vaultToolsImage: join(OUT, "images", "vault-tools.squashfs"),
  disk: join(OUT, "anchor.img"),
};

/** The rooms' images and the vault's tools, each with its verity parameters. */
const VERITY_RECORDS = [join(WORK, "verity.json"), join(WORK, "vault-tools.verity.json")];

const builtImages = (): VerityImage[] =>
  VERITY_RECORDS.flatMap((record) => {
    const verity = JSON.parse(readFileSync(record, "utf8")) as Record<string, VerityImage["verity"]>;
    return Object.entries(verity).map(([name, entry]) => ({ name, file: join(OUT, "images", `${name}.squashfs`), verity: entry }));
  });

function sourceFiles(dirs: string[]): string[] {
  const files: string[] = [];
  const walk = (dir: string): void => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (/\.(ts|toml|json)$/.test(name)) files.push(path);
    }
  };
  for (const dir of dirs) walk(join(ROOT, dir));
  return files;
}

const version = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
const stock = stockKernel ? findStockKernel() : null;
const bunVersion = runHostTool([process.execPath, "--version"]).trim();
const bay0Inputs = { files: [...sourceFiles(RUNTIME_DIRS), join(ROOT, "package-lock.json")], values: [bunVersion] };

function compileBay0(outfile: string, hooks: boolean): void {
  runHostTool([process.execPath, "build", "--compile", "--minify", "--bytecode", "--define", `ANCHOR_TEST_HOOKS=${hooks}`, join(ROOT, "init", "main.ts"), "--outfile", outfile]);
}

/**
 * How bay0's executable is packed, chosen by measurement (README,
 * "Footprint"): zstd 19 in 1 MiB blocks. xz (BCJ x86) is 3.5 MB smaller but
 * boots 5 s slower under TCG; 256 KiB blocks are larger and no faster.
 */
const BAY0_SQUASHFS = ["-comp", "zstd", "-Xcompression-level", "19", "-b", "1M"];
/** Readable by the courier, which runs this same executable as a room's user. */
const BAY0_DIR_MODE = 0o755;

/** bay0 alone in a reproducible squashfs, which preinit mounts at /usr/lib/bay0. */
function packBay0(bin: string, output: string): void {
  const tree = mkdtempSync(join(tmpdir(), "anchor-bay0-"));
  try {
    chmodSync(tree, BAY0_DIR_MODE);
    copyFileSync(bin, join(tree, "bay0"));
    runHostTool(["mksquashfs", tree, output, "-noappend", ...BAY0_SQUASHFS, "-all-root", "-all-time", "0", "-mkfs-time", "0", "-quiet", "-no-progress"]);
  } finally {
    rmSync(tree, { recursive: true, force: true });
  }
}

function policyFiles(): string[] {
  return readdirSync(POLICY_DIR)
    .filter((f) => f.endsWith(".toml"))
    .sort()
    .map((f) => join(POLICY_DIR, f));
}

function stockModules(): string[] {
  if (stock === null) return [];
  return [...new Set(STOCK_MODULES.flatMap((m) => parseShowDepends(runHostTool(["modprobe", "-S", stock.version, "--show-depends", m]))))];
}

function buildUki(): void {
  const scratch = mkdtempSync(join(tmpdir(), "anchor-uki-key-"));
  try {
    const pcrKey = pcrSigningKey(keys, scratch);
    assembleUki({ vmlinuz: paths.vmlinuz, initramfs: paths.initramfs, cmdline: BASE_CMDLINE.join(" "), osRelease: osRelease(version), version, pcrKey }, paths.unsignedUki);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function signUki(): void {
  const scratch = mkdtempSync(join(tmpdir(), "anchor-sign-"));
  try {
    const key = signingKey(keys, scratch);
    progress("sign", `signing with the ${key.owner === "owner" ? "owner's" : "snakeoil test"} key ${key.cert}`);
    sign(paths.unsignedUki, paths.uki, key);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

const steps: Step[] = [
  {
    name: "kernel",
    inputs: stock ? { files: [stock.vmlinuz], values: ["stock", stock.version] } : { files: [], values: ["hardened", kernelCacheKey()] },
    outputs: [paths.vmlinuz],
    run: async () => copyFileSync(stock ? stock.vmlinuz : (await buildHardenedKernel()).bzImage, paths.vmlinuz),
  },
  {
    name: "preinit",
    inputs: { files: [join(ROOT, "init", "preinit.c")], values: [runHostTool(["gcc", "--version"])] },
    outputs: [paths.preinit],
    run: () => {
      runHostTool(["gcc", "-static", "-Os", "-s", "-Wall", "-Wextra", "-Werror", "-o", paths.preinit, join(ROOT, "init", "preinit.c")]);
    },
  },
  {
    name: "bay0",
    inputs: { ...bay0Inputs, values: [...bay0Inputs.values, "release"] },
    outputs: [paths.bay0],
    run: () => compileBay0(paths.bay0, false),
  },
  {
    name: "bay0-image",
    inputs: { files: [paths.bay0], values: [...BAY0_SQUASHFS, String(BAY0_DIR_MODE)] },
    outputs: [paths.bay0Image],
    run: () => packBay0(paths.bay0, paths.bay0Image),
  },
  {
    name: "images",
    inputs: { files: ["/bin/busybox", join(ROOT, "courier", "anchorctl.c"), ...["images.ts", "verity.ts", "disk.ts"].map((f) => join(ROOT, "uki", f))], values: [] },
    outputs: [paths.minimalImage, paths.workshopImage, join(WORK, "verity.json")],
    run: () => {
      buildMinimalImage(paths.minimalImage);
      progress("images", "workshop: debootstrap of Debian 12 minbase (about a minute)");
      buildWorkshopImage(paths.workshopImage, hostDebianMirror());
      const verity = { minimal: formatVerity(paths.minimalImage), workshop: formatVerity(paths.workshopImage) };
      writeFileSync(join(WORK, "verity.json"), JSON.stringify(verity));
    },
  },
  {
    name: "vault-tools",
    inputs: { files: [...vaultToolInputs(), join(ROOT, "uki", "vault-tools.ts"), join(ROOT, "uki", "verity.ts")], values: [] },
    outputs: [paths.vaultToolsImage, join(WORK, "vault-tools.verity.json")],
    run: () => {
      buildVaultTools(paths.vaultToolsImage);
      writeFileSync(join(WORK, "vault-tools.verity.json"), JSON.stringify({ "vault-tools": formatVerity(paths.vaultToolsImage) }));
    },
  },
  {
    name: "manifest",
    inputs: { files: [...VERITY_RECORDS, join(ROOT, "uki", "disk.ts")], values: [] },
    outputs: [paths.imageManifest],
    run: () => {
      const manifest = slotManifest(builtImages());
      writeFileSync(paths.imageManifest, `${JSON.stringify(manifest, null, 2)}\n`);
      for (const [name, entry] of Object.entries(manifest)) progress("images", `${name}: verity root hash ${entry.root_hash}`);
    },
  },
  {
    name: "initramfs",
    inputs: {
      files: [paths.preinit, stock ? paths.bay0 : paths.bay0Image, CRUN, SECCOMP_PROFILE, CONSOLE_FONT, CONSOLE_FONT_COPYRIGHT, paths.imageManifest, ...policyFiles()],
      values: [stock?.version ?? "hardened", version, ZSTD_LEVEL, ...STOCK_MODULES, ...AUTOSTART],
    },
    outputs: [paths.initramfs],
    run: () => {
      const libraries = [...new Set([paths.bay0, CRUN].flatMap((bin) => parseLdd(runHostTool(["ldd", bin]))))].sort();
      const modules = stockModules();
      progress("initramfs", `${libraries.length} libraries, ${modules.length} modules`);
      const entries: CpioEntry[] = [
        ...skeleton(),
        hostFile(paths.preinit, 0o755, "init"),
        stock ? hostFile(paths.bay0, 0o755, "usr/lib/bay0/bay0") : { kind: "dir", path: "usr/lib/bay0", mode: 0o755 },
        hostFile(CRUN, 0o755, "usr/bin/crun"),
        hostFile(paths.imageManifest, 0o644, "etc/anchor/images.json"),
        hostFile(SECCOMP_PROFILE, 0o644, "etc/anchor/seccomp.json"),
        hostFile(CONSOLE_FONT, 0o644, CONSOLE_FONT.slice(1)),
        hostFile(CONSOLE_FONT_COPYRIGHT, 0o644, CONSOLE_FONT_COPYRIGHT.slice(1)),
        ...policyFiles().map((file) => hostFile(file, 0o644, `etc/anchor/policies/${file.split("/").pop() ?? ""}`)),
        { kind: "file", path: "etc/anchor/autostart", mode: 0o644, data: Buffer.from(`${AUTOSTART.join("\n")}\n`) },
        ...libraries.map((lib) => hostFile(lib)),
        ...modules.map((m) => hostFile(m, 0o644)),
        ...(modules.length > 0
          ? [{ kind: "file" as const, path: "lib/modules/anchor.order", mode: 0o644, data: Buffer.from(`${modules.join("\n")}\n`) }]
          : []),
        { kind: "file", path: "etc/os-release", mode: 0o644, data: Buffer.from(osRelease(version)) },
      ];
      writeFileSync(paths.cpio, writeCpio(entries));
      runHostTool(["zstd", ZSTD_LEVEL, "-T0", "-q", "-f", "--check", paths.cpio, "-o", paths.initramfs]);
      // bay0's squashfs is compressed already: it follows as a plain archive, which the kernel only copies.
      if (!stock) writeFileSync(paths.initramfs, appendArchive(readFileSync(paths.initramfs), [hostFile(paths.bay0Image, 0o444, "bay0.squashfs")]));
    },
  },
  {
    name: "uki",
    inputs: { files: [paths.vmlinuz, paths.initramfs, STUB, ...(keys ? [join(keys, "pcr.key")] : [])], values: [version, ...BASE_CMDLINE, keys ?? "snakeoil", "pcrsig"] },
    outputs: [paths.unsignedUki],
    run: buildUki,
  },
  {
    name: "sign",
    inputs: { files: keys ? [paths.unsignedUki, join(keys, "db.crt")] : [paths.unsignedUki], values: [keys ?? "snakeoil"] },
    outputs: [paths.uki],
    run: signUki,
  },
  {
    name: "esp",
    inputs: { files: [paths.uki], values: [] },
    outputs: [paths.espBoot],
    run: () => copyFileSync(paths.uki, paths.espBoot),
  },
  {
    name: "disk",
    inputs: { files: [paths.uki, paths.imageManifest, paths.minimalImage, paths.workshopImage, paths.vaultToolsImage, join(ROOT, "uki", "disk.ts")], values: [] },
    outputs: [paths.disk],
    run: () => {
      buildDiskImage({ output: paths.disk, uki: paths.uki, images: builtImages(), seed: readFileSync(paths.imageManifest, "utf8") });
    },
  },
];

const testSteps: Step[] = [
  {
    name: "bay0-test",
    inputs: { ...bay0Inputs, values: [...bay0Inputs.values, "test-hooks", ...BAY0_SQUASHFS, String(BAY0_DIR_MODE)] },
    outputs: [paths.testBay0, paths.testBay0Image],
    run: () => {
      compileBay0(paths.testBay0, true);
      packBay0(paths.testBay0, paths.testBay0Image);
    },
  },
];

async function main(): Promise<void> {
  mkdirSync(WORK, { recursive: true });
  for (const step of testHooks ? [...steps, ...testSteps] : steps) await runStep(step, join(WORK, "stamps"));
  progress("done", `${paths.uki} (${(statSync(paths.uki).size / 1048576).toFixed(1)} MiB), ${paths.vmlinuz}, ${paths.initramfs}`);
}

main().catch((error: unknown) => {
  process.stderr.write(`[build] failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
