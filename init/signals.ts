import type { Log } from "../sys/log.ts";
import { guarded } from "./guard.ts";
import type { ShutdownAction } from "./shutdown.ts";

/**
 * What each signal to PID 1 means. The kernel sends SIGINT on Ctrl-Alt-Del
 * once reboot(RB_DISABLE_CAD) is set. SIGPWR is left alone: JavaScriptCore
 * uses it to suspend threads for garbage collection.
 */
export const SIGNAL_ACTIONS: Readonly<Record<"SIGINT" | "SIGTERM", ShutdownAction>> = {
  SIGINT: "reboot",
  SIGTERM: "poweroff",
};

export type SignalTarget = Pick<NodeJS.Process, "on">;

/**
 * Installs bay0's signal listeners. As PID 1 a signal without a listener is
 * simply dropped by the kernel, so only these are acted upon.
 */
export function installSignalHandlers(
  target: SignalTarget,
  log: Log,
  handlers: { shutdown: (action: ShutdownAction, reason: string) => void; childExited: () => void },
): void {
  for (const [signal, action] of Object.entries(SIGNAL_ACTIONS)) {
    target.on(
      signal,
      guarded(log, `signal:${signal}`, () => {
        log.info("signal.received", { signal, action });
        handlers.shutdown(action, signal);
      }),
    );
  }
  target.on("SIGCHLD", guarded(log, "signal:SIGCHLD", handlers.childExited));
}

/** Runs the shutdown sequence at most once, whatever asks for it and how often. */
export function createPowerControl(
  log: Log,
  run: (action: ShutdownAction, reason: string) => Promise<void>,
): (action: ShutdownAction, reason: string) => void {
  let started: ShutdownAction | null = null;
  return (action, reason) => {
    if (started !== null) {
      log.info("shutdown.already", { action: started, ignored: action, reason });
      return;
    }
    started = action;
    run(action, reason).catch((error: unknown) => log.error("bay0.error", { where: "shutdown", error: String(error) }));
  };
}
