import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

/** A named build step that is skipped when its inputs and outputs are unchanged. */
export type Step = {
  name: string;
  /** Files and values the output depends on. */
  inputs: { files: string[]; values: string[] };
  outputs: string[];
  run: () => Promise<void> | void;
};

export const progress = (step: string, message: string): void => {
  process.stdout.write(`[build] ${step}: ${message}\n`);
};

function fingerprint(step: Step): string {
  const hash = createHash("sha256");
  for (const file of [...step.inputs.files].sort()) {
    hash.update(file);
    hash.update(readFileSync(file));
  }
  for (const value of step.inputs.values) hash.update(value);
  return hash.digest("hex");
}

/** Runs the step unless a stamp shows the same inputs already made its outputs. */
export async function runStep(step: Step, stampDir: string): Promise<void> {
  const stamp = `${stampDir}/${step.name}.stamp`;
  const print = fingerprint(step);
  const fresh = existsSync(stamp) && readFileSync(stamp, "utf8") === print && step.outputs.every((o) => existsSync(o));
  if (fresh) {
    progress(step.name, "up to date");
    return;
  }
  const started = Date.now();
  progress(step.name, "building");
  for (const output of step.outputs) mkdirSync(dirname(output), { recursive: true });
  await step.run();
  mkdirSync(stampDir, { recursive: true });
  writeFileSync(stamp, print);
  const sizes = step.outputs.map((o) => `${o} ${(statSync(o).size / 1048576).toFixed(1)} MiB`).join(", ");
  progress(step.name, `done in ${((Date.now() - started) / 1000).toFixed(1)} s (${sizes})`);
}
