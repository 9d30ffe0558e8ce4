/**
 * `npm run build`: builds Anchor OS images into out/ through named, cached
 * steps. Artifacts (a public interface):
 *   out/vmlinuz         the kernel (Debian's stock kernel for now)
 *   out/initramfs.img   zstd-compressed cpio: preinit, bay0, its libraries, modules
 * Options: `--test-hooks` also compiles out/test/bay0, a bay0 with fault
 * injection hooks that the integration tests overlay onto the image;
 * `--out DIR` builds into DIR instead of out/ (reproducibility checks).
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { z } from "zod";
import { findStockKernel, parseShowDepends, STOCK_MODULES } from "../kernel/stock.ts";
import { writeCpio, type CpioEntry } from "./cpio.ts";
import { hostFile, osRelease, parseLdd, skeleton } from "./initramfs.ts";
import { progress, runStep, type Step } from "./steps.ts";

const ROOT = join(import.meta.dir, "..");

const cliSchema = z
  .array(z.string())
  .transform((args, ctx) => {
    const parsed = { testHooks: false, out: join(ROOT, "out") };
    for (let i = 0; i < args.length; i++) {
      const arg = args[i];
      if (arg === "--test-hooks") parsed.testHooks = true;
      else if (arg === "--out" && args[i + 1] !== undefined && !args[i + 1]?.startsWith("--")) parsed.out = resolve(args[++i] ?? "");
      else ctx.addIssue({ code: "custom", message: `unknown or incomplete argument '${arg}' (expected --test-hooks or --out DIR)` });
    }
    return parsed;
  });

const cli = cliSchema.safeParse(process.argv.slice(2));
if (!cli.success) {
  process.stderr.write(`[build] ${cli.error.issues.map((i) => i.message).join("; ")}\n`);
  process.exit(2);
}
const { out: OUT, testHooks } = cli.data;
const WORK = join(OUT, "build");
const STAMPS = join(WORK, "stamps");
const RUNTIME_DIRS = ["init", "sys", "rooms", "vault", "courier", "policies"];
const ZSTD_LEVEL = "-19";

const paths = {
  vmlinuz: join(OUT, "vmlinuz"),
  initramfs: join(OUT, "initramfs.img"),
  preinit: join(WORK, "preinit"),
  bay0: join(WORK, "bay0"),
  testBay0: join(OUT, "test", "bay0"),
  cpio: join(WORK, "initramfs.cpio"),
};

function sh(step: string, argv: string[]): string {
  const result = spawnSync(argv[0] ?? "", argv.slice(1), { encoding: "utf8", maxBuffer: 64 << 20 });
  if (result.error) throw new Error(`${step}: cannot run ${argv[0]}: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`${step}: ${argv.join(" ")} failed (${result.status}):\n${result.stderr}`);
  return result.stdout;
}

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
const kernel = findStockKernel();
const bunVersion = sh("bay0", [process.execPath, "--version"]).trim();

function compileBay0(outfile: string, testHooks: boolean): void {
  sh("bay0", [
    process.execPath,
    "build",
    "--compile",
    "--minify",
    "--bytecode",
    `--define`,
    `ANCHOR_TEST_HOOKS=${testHooks}`,
    join(ROOT, "init", "main.ts"),
    "--outfile",
    outfile,
  ]);
}

const bay0Inputs = { files: [...sourceFiles(RUNTIME_DIRS), join(ROOT, "package-lock.json")], values: [bunVersion] };

const steps: Step[] = [
  {
    name: "kernel",
    inputs: { files: [kernel.vmlinuz], values: [kernel.version] },
    outputs: [paths.vmlinuz],
    run: () => copyFileSync(kernel.vmlinuz, paths.vmlinuz),
  },
  {
    name: "preinit",
    inputs: { files: [join(ROOT, "init", "preinit.c")], values: [sh("preinit", ["gcc", "--version"])] },
    outputs: [paths.preinit],
    run: () => {
      sh("preinit", ["gcc", "-static", "-Os", "-s", "-Wall", "-Wextra", "-Werror", "-o", paths.preinit, join(ROOT, "init", "preinit.c")]);
    },
  },
  {
    name: "bay0",
    inputs: { ...bay0Inputs, values: [...bay0Inputs.values, "release"] },
    outputs: [paths.bay0],
    run: () => compileBay0(paths.bay0, false),
  },
  {
    name: "initramfs",
    inputs: {
      files: [paths.preinit, paths.bay0],
      values: [kernel.version, version, ZSTD_LEVEL, ...STOCK_MODULES],
    },
    outputs: [paths.initramfs],
    run: () => {
      const libraries = parseLdd(sh("initramfs", ["ldd", paths.bay0]));
      const modules = [
        ...new Set(STOCK_MODULES.flatMap((m) => parseShowDepends(sh("initramfs", ["modprobe", "-S", kernel.version, "--show-depends", m])))),
      ];
      progress("initramfs", `${libraries.length} libraries, ${modules.length} modules`);
      const entries: CpioEntry[] = [
        ...skeleton(),
        hostFile(paths.preinit, 0o755, "init"),
        hostFile(paths.bay0, 0o755, "sbin/bay0"),
        ...libraries.map((lib) => hostFile(lib)),
        ...modules.map((m) => hostFile(m, 0o644)),
        { kind: "file", path: "lib/modules/anchor.order", mode: 0o644, data: Buffer.from(`${modules.join("\n")}\n`) },
        { kind: "file", path: "etc/os-release", mode: 0o644, data: Buffer.from(osRelease(version)) },
      ];
      writeFileSync(paths.cpio, writeCpio(entries));
      progress("initramfs", `compressing with zstd ${ZSTD_LEVEL} (about a minute on 2 cores)`);
      sh("initramfs", ["zstd", ZSTD_LEVEL, "-T0", "-q", "-f", "--check", paths.cpio, "-o", paths.initramfs]);
    },
  },
];

const testSteps: Step[] = [
  {
    name: "bay0-test",
    inputs: { ...bay0Inputs, values: [...bay0Inputs.values, "test-hooks"] },
    outputs: [paths.testBay0],
    run: () => compileBay0(paths.testBay0, true),
  },
];

async function main(): Promise<void> {
  mkdirSync(WORK, { recursive: true });
  const selected = testHooks ? [...steps, ...testSteps] : steps;
  for (const step of selected) await runStep(step, STAMPS);
  progress("done", `kernel ${paths.vmlinuz}, initramfs ${paths.initramfs}`);
}

main().catch((error: unknown) => {
  process.stderr.write(`[build] failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
