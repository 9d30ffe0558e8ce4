import { DeviceError } from "../sys/devices.ts";
import { WDIOC, type Libc } from "../sys/libc.ts";
import type { Log } from "../sys/log.ts";

export type WatchdogDeps = {
  libc: Libc;
  log: Log;
  /** Opens an existing character device (sys/devices.ts openCharDevice); throws DeviceError. */
  open: (path: string) => number;
  /** Calls fn every ms; returns what stops it. */
  every: (ms: number, fn: () => void) => () => void;
};

/** The armed watchdog: stop() ends the feeding, so the hardware resets the machine within its timeout. */
export type Watchdog = { stop(): void };

/**
 * Opens the hardware watchdog, sets its timeout and feeds it from the event
 * loop at a third of the timeout, so a wedged loop stops feeding and the
 * machine resets. It is never closed or disarmed, not even during shutdown:
 * a shutdown that hangs is also a reason to reset. Returns null (after
 * logging why: `watchdog.absent` or `watchdog.unavailable`) when there is no
 * watchdog to arm.
 */
export function armWatchdog(deps: WatchdogDeps, timeoutSec: number, path = "/dev/watchdog"): Watchdog | null {
  let fd: number;
  try {
    fd = deps.open(path);
  } catch (error) {
    if (error instanceof DeviceError && error.absent)
      deps.log.warn("watchdog.absent", { device: path, reason: error.message });
    else
      deps.log.error("watchdog.unavailable", {
        device: path,
        error: error instanceof Error ? error.message : String(error),
      });
    return null;
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
  const stopFeeding = deps.every(intervalSec * 1000, feed);
  deps.log.info("watchdog.armed", { device: path, timeout_sec: effective ?? timeoutSec, feed_every_sec: intervalSec });
  return {
    stop: () => {
      stopFeeding();
      deps.log.warn("watchdog.stopped", { device: path, reset_within_sec: effective ?? timeoutSec });
    },
  };
}
