import type { Child, ChildStream, Spawner } from "../sys/spawn.ts";
import type { RoomPlan } from "./plan.ts";

/** crun's state directory: on /run, so it is gone with every reboot. */
export const CRUN_ROOT = "/run/crun";

/**
 * Runs the room's container in the foreground: crun creates the namespaces
 * (clone3 into the room's cgroup), pivots into the room's root, applies
 * seccomp, then execs the command; it exits with the command's status.
 * The pid file appears once the room's process exists, so a crun that fails
 * before then is told apart from a command that ends at once. The room's
 * stdout and stderr come back on crun's; with a terminal, crun sends the
 * pseudo-terminal's master over the console socket instead.
 */
export function crunRun(spawner: Spawner, plan: RoomPlan, onLine: (stream: ChildStream, line: string) => void): Child {
  const terminal = plan.policy.terminal ? ["--console-socket", plan.dirs.consoleSocket] : [];
  const run = ["run", "--bundle", plan.dirs.bundle, "--pid-file", plan.dirs.pidFile, ...terminal, plan.containerId];
  return spawner.spawn(["crun", "--root", CRUN_ROOT, ...run], onLine);
}
