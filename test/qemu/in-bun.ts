import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "./paths.ts";

/**
 * Runs `script` in a Bun process (for code that needs `bun:ffi` or Bun's
 * own APIs, which vitest's Node lacks), with `fds` as its stdin and fds 3,
 * 4, …; its stdout, trimmed. Bun itself, not through npx, which would not
 * pass extra fds on.
 */
export function inBun(script: string, fds: number[] = []): string {
  const [stdin = "ignore", ...extra] = fds;
  const run = spawnSync(join(ROOT, "node_modules", ".bin", "bun"), ["-e", script], {
    cwd: ROOT,
    encoding: "utf8",
    stdio: [stdin, "pipe", "pipe", ...extra],
  });
  if (run.status !== 0) throw new Error(run.stderr);
  return run.stdout.trim();
}
