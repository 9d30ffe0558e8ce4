import { WDIOC, type Libc } from "../sys/libc.ts";
import type { Log } from "../sys/log.ts";

export type WatchdogDeps = {
  libc: Libc;
  log: Log;
  open: (path: string) => number;
  every: (ms: number, fn: () => void) => void;
};

/**
 * Opens the hardware watchdog, sets its timeout and feeds it from the event
 * loop at a third of the timeout, so a wedged loop stops feeding and the
 * machine resets. It is never closed or disarmed, not even during shutdown:
 * a shutdown that hangs is also a reason to reset. Returns false (after
 * logging why) when there is no watchdog to arm.
 */
export function armWatchdog(deps: WatchdogDeps, timeoutSec: number, path = "/dev/watchdog"): boolean {
  let fd: number;
  try {
    fd = deps.open(path);
  } catch (error) {
    deps.log.error("watchdog.unavailable", { device: path, error: String(error) });
    return false;
  }
  const set = deps.libc.ioctlInt(fd, WDIOC.SETTIMEOUT, timeoutSec);
  const effective = set.ok ? set.value : null;
  if (!set.ok) deps.log.warn("watchdog.timeout_refused", { requested_sec: timeoutSec, error: set.message });
  const feed = (): void => {
    const result = deps.libc.ioctl(fd, WDIOC.KEEPALIVE, 0);
    if (!result.ok) deps.log.warn("watchdog.feed_failed", { error: result.message });
  };
  feed();
  const intervalSec = Math.max(1, Math.floor((effective ?? timeoutSec) / 3));
  deps.every(intervalSec * 1000, feed);
  deps.log.info("watchdog.armed", { device: path, timeout_sec: effective ?? timeoutSec, feed_every_sec: intervalSec });
  return true;
}
