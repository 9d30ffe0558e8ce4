/** How a child bay0 spawned ended: an exit status, or the signal that killed it. */
export type ChildExit = { status: number | null; signal: string | null };

export type ChildStream = "stdout" | "stderr";

/** `stdin` only for a child spawned with `input`: bay0 writes to it, and `end` closes it. */
export type Child = { pid: number; exited: Promise<ChildExit>; stdin?: { write(text: string): void; end(): void } };

/**
 * Starts programs for bay0 and remembers their PIDs while they live, so the
 * orphan reaper leaves their exit statuses to the spawner.
 */
export interface Spawner {
  /**
   * `fds`: the child's stdin, then its fds 3, 4, …, else stdin is closed; with
   * `input` stdin is a pipe from bay0 and `fds` are fds 3, 4, …; `env` adds
   * to the spawner's environment; `user`: the uid and gid it runs as;
   * `lineMax`: the longest line read before it is cut (sys/lines.ts).
   */
  spawn(
    argv: string[],
    onLine: (stream: ChildStream, line: string) => void,
    options?: {
      fds?: number[];
      env?: Record<string, string>;
      input?: boolean;
      user?: { uid: number; gid: number };
      lineMax?: number;
    },
  ): Child;
  isOwn(pid: number): boolean;
}
