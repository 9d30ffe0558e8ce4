import { spawnSync } from "node:child_process";

/** A small C program of ours (preinit, anchorctl) as the image carries it: static, small, stripped, warnings as errors. */
export const compileStaticC = (output: string, source: string): string =>
  runHostTool(["gcc", "-static", "-Os", "-s", "-Wall", "-Wextra", "-Werror", "-o", output, source]);

/**
 * Runs a host tool to completion (build steps: gcc, objcopy, sbsign,
 * mksquashfs, veritysetup, make, …) and returns its stdout; a failure throws
 * with the command line and the end of its error output.
 */
export function runHostTool(
  argv: string[],
  options: { cwd?: string; env?: Record<string, string>; input?: string } = {},
): string {
  const result = spawnSync(argv[0] ?? "", argv.slice(1), {
    encoding: "utf8",
    maxBuffer: 256 << 20,
    ...(options.cwd ? { cwd: options.cwd } : {}),
    ...(options.env ? { env: { ...process.env, ...options.env } } : {}),
    ...(options.input !== undefined ? { input: options.input } : {}),
  });
  if (result.error) throw new Error(`cannot run ${argv[0]}: ${result.error.message}`);
  if (result.status !== 0) {
    throw new Error(`${argv.join(" ")} failed (${result.status}):\n${(result.stderr || result.stdout).slice(-4000)}`);
  }
  return result.stdout;
}
