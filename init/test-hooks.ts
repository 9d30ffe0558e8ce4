import type { Log } from "../sys/log.ts";
import type { SignalTarget } from "./signals.ts";
import { guarded } from "./guard.ts";

/**
 * Faults on demand, compiled only into test builds (ANCHOR_TEST_HOOKS): a
 * release bay0 has no SIGUSR1/SIGUSR2 listeners, so the kernel drops both.
 *   SIGUSR1: throw inside an event handler (must become `bay0.error`).
 *   SIGUSR2: wedge the event loop (the watchdog must reset the machine).
 */
export function installTestHooks(target: SignalTarget, log: Log): void {
  target.on(
    "SIGUSR1",
    guarded(log, "signal:SIGUSR1", () => {
      log.info("test.throwing");
      throw new Error("test hook: exception inside an event handler");
    }),
  );
  target.on("SIGUSR2", () => {
    log.info("test.wedging");
    const until = Number.POSITIVE_INFINITY;
    while (Date.now() < until) {
      // Spin: timers, including the watchdog feed, never run again.
    }
  });
}
