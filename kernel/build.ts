/**
 * Builds the hardened kernel: Debian's linux-source-6.1, `make tinyconfig`,
 * then kernel/hardened.config on top. The result is cached outside the
 * checkout, keyed by source version + fragment + this recipe, because a cold
 * build takes 10-15 minutes on two cores. Fails if any fragment option did
 * not take effect. Run alone with `npx bun kernel/build.ts`.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { cpus, homedir } from "node:os";
import { join } from "node:path";
import { droppedOptions, parseKernelConfig } from "./config.ts";

const SOURCE_PACKAGE = "linux-source-6.1";
const TARBALL = "/usr/src/linux-source-6.1.tar.xz";
const FRAGMENT = join(import.meta.dir, "hardened.config");
/** Bump when the recipe below changes in a way that changes the output. */
const RECIPE = "2";
const ARCH = "x86_64";
const REPRODUCIBLE_ENV = {
  KBUILD_BUILD_TIMESTAMP: "1970-01-01",
  KBUILD_BUILD_USER: "anchor",
  KBUILD_BUILD_HOST: "anchor",
};

export type HardenedKernel = { bzImage: string; config: string; key: string; cached: boolean };

/** Written next to a cached build: how long the cold build took (for `npm run bench`). */
export type KernelBuildRecord = { seconds: number; jobs: number };

export function kernelCacheDir(key: string): string {
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "anchor-os", "kernel", key);
}

const say = (message: string): void => {
  process.stdout.write(`[kernel] ${message}\n`);
};

/** One step of the kernel's own build (tar, the config script, make olddefconfig), which must succeed. */
const run = (cwd: string, argv: string[]): void => {
  const result = spawnSync(argv[0] ?? "", argv.slice(1), {
    cwd,
    env: { ...process.env, ...REPRODUCIBLE_ENV },
    encoding: "utf8",
  });
  if (result.status !== 0)
    throw new Error(
      `${argv.join(" ")} failed (${String(result.status)}): ${(result.stderr || result.error?.message || "").slice(-2000)}`,
    );
};

/** `make bzImage` with a progress line every 30 s (objects compiled so far). */
function makeWithProgress(cwd: string, jobs: number, logFile: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("sh", ["-c", `make ARCH=${ARCH} -j${jobs} bzImage > ${JSON.stringify(logFile)} 2>&1`], {
      cwd,
      env: { ...process.env, ...REPRODUCIBLE_ENV },
      stdio: "ignore",
    });
    const started = Date.now();
    const timer = setInterval(() => {
      const log = existsSync(logFile) ? readFileSync(logFile, "utf8") : "";
      const compiled = (log.match(/^\s+CC\s/gm) ?? []).length;
      say(`compiling: ${compiled} objects after ${Math.round((Date.now() - started) / 1000)} s`);
    }, 30_000);
    child.on("exit", (code) => {
      clearInterval(timer);
      if (code === 0) resolve();
      else
        reject(
          new Error(
            `make bzImage failed (${code}); last lines:\n${readFileSync(logFile, "utf8").split("\n").slice(-30).join("\n")}`,
          ),
        );
    });
  });
}

export function kernelCacheKey(): string {
  const version = spawnSync("dpkg-query", ["-W", "-f=${Version}", SOURCE_PACKAGE], { encoding: "utf8" }).stdout.trim();
  if (version === "" || !existsSync(TARBALL))
    throw new Error(`${SOURCE_PACKAGE} is not installed: apt-get install ${SOURCE_PACKAGE}`);
  return createHash("sha256")
    .update(`${SOURCE_PACKAGE} ${version}\n${RECIPE}\n`)
    .update(readFileSync(FRAGMENT))
    .digest("hex")
    .slice(0, 16);
}

export async function buildHardenedKernel(): Promise<HardenedKernel> {
  const key = kernelCacheKey();
  const dir = kernelCacheDir(key);
  const cacheRoot = join(dir, "..");
  const result = { bzImage: join(dir, "bzImage"), config: join(dir, "config"), key };
  if (existsSync(result.bzImage) && existsSync(result.config)) {
    say(`cached build ${key} (${dir})`);
    return { ...result, cached: true };
  }
  const work = join(cacheRoot, `${key}.building-${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  try {
    say(`unpacking ${TARBALL}`);
    run(work, ["tar", "-xf", TARBALL, "--strip-components=1"]);
    say("configuring: tinyconfig + kernel/hardened.config");
    run(work, ["make", `ARCH=${ARCH}`, "tinyconfig"]);
    run(work, ["scripts/kconfig/merge_config.sh", "-m", ".config", FRAGMENT]);
    run(work, ["make", `ARCH=${ARCH}`, "olddefconfig"]);
    const dropped = droppedOptions(
      parseKernelConfig(readFileSync(FRAGMENT, "utf8")),
      parseKernelConfig(readFileSync(join(work, ".config"), "utf8")),
    );
    if (dropped.length > 0) {
      throw new Error(
        `these options in kernel/hardened.config did not take effect (a dependency is off?):\n${dropped
          .map((d) => `  ${d.option}: wanted ${d.wanted}, got ${d.got}`)
          .join("\n")}`,
      );
    }
    const jobs = cpus().length;
    say(`compiling bzImage with ${jobs} jobs (10-15 minutes on 2 cores, once per configuration)`);
    const started = Date.now();
    await makeWithProgress(work, jobs, join(work, "build.log"));
    const record: KernelBuildRecord = { seconds: Math.round((Date.now() - started) / 1000), jobs };
    const staged = `${dir}.staged-${process.pid}`;
    mkdirSync(staged, { recursive: true });
    copyFileSync(join(work, "arch", "x86", "boot", "bzImage"), join(staged, "bzImage"));
    copyFileSync(join(work, ".config"), join(staged, "config"));
    writeFileSync(join(staged, "build.json"), `${JSON.stringify(record)}\n`);
    rmSync(dir, { recursive: true, force: true });
    renameSync(staged, dir);
    say(`built ${key}`);
    return { ...result, cached: false };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  buildHardenedKernel().then(
    (kernel) => say(`bzImage: ${kernel.bzImage}`),
    (error: unknown) => {
      process.stderr.write(`[kernel] ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
