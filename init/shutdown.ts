import { MNT_DETACH, RB, SIG, type Libc } from "../sys/libc.ts";
import type { Log } from "../sys/log.ts";
import { isUserProcess, type ProcStat } from "../sys/procfs.ts";

export type ShutdownAction = "poweroff" | "reboot";

export type ShutdownDeps = {
  libc: Libc;
  log: Log;
  self: number;
  processes: () => ProcStat[];
  /** Mount points now, in mount order (from /proc/self/mountinfo). */
  mountPoints: () => string[];
  sleep: (ms: number) => Promise<void>;
  now: () => number;
  /** Reaps exited orphans so they stop counting as alive. */
  reap: () => void;
  graceMs: number;
};

/** Mounts the kernel or preinit set up, and the root: left in place. */
const KEEP_MOUNTED = new Set(["/", "/proc", "/sys", "/dev"]);

async function waitForProcessesToExit(deps: ShutdownDeps, deadlineMs: number): Promise<number> {
  const start = deps.now();
  for (;;) {
    deps.reap();
    const alive = deps.processes().filter((p) => isUserProcess(p, deps.self) && p.state !== "Z").length;
    if (alive === 0 || deps.now() - start >= deadlineMs) return alive;
    await deps.sleep(100);
  }
}

/**
 * The orderly end of a boot: SIGTERM to every process, a grace period,
 * SIGKILL to what is left, sync, unmount, and only after `shutdown.complete`
 * is logged, reboot(2). Returns only if the final reboot call fails.
 */
export async function shutdown(deps: ShutdownDeps, action: ShutdownAction, reason: string): Promise<void> {
  const { libc, log } = deps;
  log.info("shutdown.begin", { action, reason });
  libc.kill(-1, SIG.SIGTERM);
  libc.kill(-1, SIG.SIGCONT);
  const lingering = await waitForProcessesToExit(deps, deps.graceMs);
  if (lingering > 0) {
    log.warn("shutdown.killing", { processes: lingering });
    libc.kill(-1, SIG.SIGKILL);
    await waitForProcessesToExit(deps, 2000);
  }
  libc.sync();
  const failed: string[] = [];
  for (const target of deps.mountPoints().reverse()) {
    if (KEEP_MOUNTED.has(target)) continue;
    if (!libc.umount2(target, 0).ok && !libc.umount2(target, MNT_DETACH).ok) failed.push(target);
  }
  libc.sync();
  log.info("shutdown.complete", { action, unmount_failed: failed });
  const result = libc.reboot(action === "poweroff" ? RB.POWER_OFF : RB.AUTOBOOT);
  if (!result.ok) log.error("bay0.error", { where: "shutdown", error: `reboot(2) failed: ${result.message}` });
}
