import { spawnSync } from "node:child_process";
import { join } from "node:path";

export const ROOT = join(import.meta.dirname, "..", "..");
export const OUT = join(ROOT, "out");
export const LOG_DIR = join(OUT, "test-logs");

/** Runs one of the project's scripts (`uki/keys.ts DIR`, `uki/bundle.ts`, …) as a person does, with its Bun. */
export const runScript = (script: string, args: string[] = []) =>
  spawnSync(join(ROOT, "node_modules", ".bin", "bun"), [join(ROOT, script), ...args], { encoding: "utf8" });
