import { CLD, type Libc } from "../sys/libc.ts";
import type { Log } from "../sys/log.ts";
import type { ProcStat } from "../sys/procfs.ts";

export type ReaperDeps = {
  libc: Libc;
  log: Log;
  /** Processes now; the reaper looks for zombies whose parent is bay0. */
  processes: () => ProcStat[];
  /** Children bay0 spawned through Bun: Bun waits for those itself. */
  isOwnChild: (pid: number) => boolean;
  self: number;
};

/**
 * Reaps every zombie child of bay0 that bay0 did not spawn itself (orphans
 * re-parented to PID 1). A catch-all waitpid(-1) would steal exit statuses
 * from Bun.spawn, so each orphan is waited for by its own PID. Returns how
 * many were reaped.
 */
export function reapOrphans(deps: ReaperDeps): number {
  let reaped = 0;
  for (const proc of deps.processes()) {
    if (proc.state !== "Z" || proc.ppid !== deps.self || deps.isOwnChild(proc.pid)) continue;
    const result = deps.libc.reapPid(proc.pid);
    if (!result.ok || result.value === 0) continue;
    reaped += 1;
    const how =
      result.code === CLD.EXITED
        ? { status: result.status }
        : { signal: result.status, core: result.code === CLD.DUMPED };
    deps.log.info("child.reaped", { pid: proc.pid, comm: proc.comm, ...how });
  }
  return reaped;
}
