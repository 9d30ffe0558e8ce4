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
  /** Refuses new rooms from now on (called first). */
  stopStarting: () => void;
  /** Runs once every process has ended, before anything is unmounted (the vault locks). */
  beforeUnmount: () => Promise<void>;
  /** Ends the watchdog's feeding: the last resort when the kernel will not reboot. */
  stopWatchdog: () => void;
  graceMs: number;
};

const REBOOT_RETRIES = 3;
const REBOOT_RETRY_MS = 1000;

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
 * The orderly end of a boot: no new rooms, SIGTERM to every process, a grace
 * period, SIGKILL to what is left, the vault locked, sync, unmount, and only after
 * `shutdown.complete` is logged, reboot(2). Should the kernel refuse, bay0
 * retries, falls back to power-off, and at last stops feeding the watchdog
 * so the hardware resets the machine: it never stays up with everything
 * dead. Returns only if every attempt failed.
 */
export async function shutdown(deps: ShutdownDeps, action: ShutdownAction, reason: string): Promise<void> {
  const { libc, log } = deps;
  log.info("shutdown.begin", { action, reason });
  deps.stopStarting();
  libc.kill(-1, SIG.SIGTERM);
  libc.kill(-1, SIG.SIGCONT);
  const lingering = await waitForProcessesToExit(deps, deps.graceMs);
  if (lingering > 0) {
    log.warn("shutdown.killing", { processes: lingering });
    libc.kill(-1, SIG.SIGKILL);
    await waitForProcessesToExit(deps, 2000);
  }
  await deps
    .beforeUnmount()
    .catch((error: unknown) => log.error("bay0.error", { where: "shutdown", error: String(error) }));
  libc.sync();
  const failed: string[] = [];
  for (const target of deps.mountPoints().reverse()) {
    if (KEEP_MOUNTED.has(target)) continue;
    if (!libc.umount2(target, 0).ok && !libc.umount2(target, MNT_DETACH).ok) failed.push(target);
  }
  libc.sync();
  log.info("shutdown.complete", { action, unmount_failed: failed });
  const attempts: ShutdownAction[] = [
    ...Array<ShutdownAction>(REBOOT_RETRIES).fill(action),
    ...(action === "reboot" ? ["poweroff" as const] : []),
  ];
  for (const [i, attempt] of attempts.entries()) {
    const result = libc.reboot(attempt === "poweroff" ? RB.POWER_OFF : RB.AUTOBOOT);
    if (result.ok) return;
    log.error("bay0.error", {
      where: "shutdown",
      error: `reboot(2) for ${attempt} failed: ${result.message}`,
      attempt: i + 1,
    });
    await deps.sleep(REBOOT_RETRY_MS);
  }
  deps.stopWatchdog();
}
