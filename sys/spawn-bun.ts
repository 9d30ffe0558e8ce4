import { createLineSplitter } from "./lines.ts";
import type { Child, ChildExit, ChildStream, Spawner } from "./spawn.ts";

async function pump(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void): Promise<void> {
  const splitter = createLineSplitter(onLine);
  for await (const chunk of stream) splitter.push(chunk);
  splitter.end();
}

/**
 * The real spawner: Bun.spawn, whose pidfd-based wait keeps exit statuses
 * exact. `live` holds the PIDs of every child bay0 started through Bun
 * (shared with the tool runner), which the orphan reaper must not touch.
 */
export function createBunSpawner(env: Record<string, string>, live: Set<number> = new Set()): Spawner {
  return {
    isOwn: (pid) => live.has(pid),
    spawn(argv, onLine): Child {
      const proc = Bun.spawn(argv, { env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
      live.add(proc.pid);
      const streams = (["stdout", "stderr"] as const).map((name: ChildStream) =>
        pump(proc[name], (line) => onLine(name, line)).catch(() => undefined),
      );
      const exited = (async (): Promise<ChildExit> => {
        await proc.exited;
        await Promise.all(streams);
        return { status: proc.exitCode, signal: proc.signalCode === null ? null : String(proc.signalCode) };
      })().finally(() => live.delete(proc.pid));
      return { pid: proc.pid, exited };
    },
  };
}
