import type { ToolResult, ToolRunner } from "./tool.ts";

/** The real runner: Bun.spawn, so the reaper leaves its children alone (registered like the spawner's). */
export function createBunToolRunner(env: Record<string, string>, register: { add(pid: number): void; delete(pid: number): void }): ToolRunner {
  return async (argv) => {
    const proc = Bun.spawn(argv, { env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    register.add(proc.pid);
    try {
      const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
      await proc.exited;
      const result: ToolResult = { status: proc.exitCode, stdout, stderr };
      return result;
    } finally {
      register.delete(proc.pid);
    }
  };
}
