import { createLineSplitter } from "./lines.ts";
import type { Child, ChildExit, ChildStream, Spawner } from "./spawn.ts";

/** The part of a Bun subprocess bay0 uses (tests pass look-alikes). */
export type StartedProcess = {
  readonly pid: number;
  readonly stdout: ReadableStream<Uint8Array>;
  readonly stderr: ReadableStream<Uint8Array>;
  readonly exited: Promise<number>;
  readonly exitCode: number | null;
  readonly signalCode: string | number | null;
  readonly stdin?: number | { write(text: string): unknown; flush(): unknown; end(): unknown } | undefined;
};

/** `stdin`: an fd, bytes to read (a secret for a tool's standard input), or a pipe from bay0; `extra` become fds 3, 4, … */
export type StartProcess = (
  argv: string[],
  env: Record<string, string>,
  stdin?: number | Uint8Array | "pipe",
  extra?: number[],
  user?: { uid: number; gid: number },
) => StartedProcess;

/** Bun.spawn with both output streams piped to bay0, stdin (and fds 3…) given or closed, as bay0's user or `user`. */
export const bunStart: StartProcess = (argv, env, stdin, extra = [], user) =>
  Bun.spawn(argv, { env, stdio: [stdin ?? "ignore", "pipe", "pipe", ...extra], ...user });

async function pump(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
  lineMax: number | undefined,
): Promise<void> {
  const splitter = createLineSplitter(onLine, lineMax);
  for await (const chunk of stream) splitter.push(chunk);
  splitter.end();
}

/**
 * Registers a started process in `live` until Bun has waited for it: from
 * then on its pid may be reused by an orphan that the reaper must see, even
 * while a grandchild still holds the pipes open. Resolves when it exited.
 */
export function registerUntilExit(
  live: { add(pid: number): void; delete(pid: number): void },
  proc: StartedProcess,
): Promise<number> {
  live.add(proc.pid);
  return proc.exited.finally(() => live.delete(proc.pid));
}

/**
 * The real spawner: Bun.spawn, whose pidfd-based wait keeps exit statuses
 * exact. `live` holds the PIDs of every child bay0 started through Bun,
 * which the orphan reaper must not touch.
 */
export function createBunSpawner(
  env: Record<string, string>,
  live: Set<number> = new Set(),
  start: StartProcess = bunStart,
): Spawner {
  return {
    isOwn: (pid) => live.has(pid),
    spawn(argv, onLine, options = {}): Child {
      const fds = options.fds ?? [];
      const proc =
        options.input === true
          ? start(argv, { ...env, ...options.env }, "pipe", fds, options.user)
          : start(argv, { ...env, ...options.env }, fds[0], fds.slice(1), options.user);
      const waited = registerUntilExit(live, proc);
      const streams = (["stdout", "stderr"] as const).map((name: ChildStream) =>
        pump(proc[name], (line) => onLine(name, line), options.lineMax).catch(() => undefined),
      );
      const exited = (async (): Promise<ChildExit> => {
        await waited;
        await Promise.all(streams);
        return { status: proc.exitCode, signal: proc.signalCode === null ? null : String(proc.signalCode) };
      })();
      const sink = typeof proc.stdin === "object" ? proc.stdin : null;
      if (sink === null) return { pid: proc.pid, exited };
      // A child gone before it read: the write fails, and its exit says the rest.
      const quietly = (act: () => unknown): void =>
        void Promise.resolve()
          .then(act)
          .catch(() => undefined);
      return {
        pid: proc.pid,
        exited,
        stdin: {
          write: (text) => quietly(() => (sink.write(text), sink.flush())),
          end: () => quietly(() => sink.end()),
        },
      };
    },
  };
}
