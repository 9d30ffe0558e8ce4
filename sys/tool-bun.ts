import { bunStart, registerUntilExit, type StartProcess } from "./spawn-bun.ts";
import type { ToolResult, ToolRunner } from "./tool.ts";

const text = (stream: ReadableStream<Uint8Array>): Promise<string> => new Response(stream).text().catch(() => "");

/** The real runner: Bun.spawn, so the reaper leaves its children alone (registered like the spawner's). */
export function createBunToolRunner(
  env: Record<string, string>,
  register: { add(pid: number): void; delete(pid: number): void },
  start: StartProcess = bunStart,
): ToolRunner {
  return async (argv, options = {}) => {
    const proc = start(
      argv,
      { ...env, ...options.env },
      options.input === undefined ? undefined : new TextEncoder().encode(options.input),
    );
    const exited = registerUntilExit(register, proc);
    const [stdout, stderr] = await Promise.all([text(proc.stdout), text(proc.stderr)]);
    await exited;
    const result: ToolResult = { status: proc.exitCode, stdout, stderr };
    return result;
  };
}
