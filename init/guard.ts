import { RB, type Libc } from "../sys/libc.ts";
import type { Log } from "../sys/log.ts";

const describe = (error: unknown): { error: string; stack?: string } =>
  error instanceof Error ? { error: error.message, stack: error.stack } : { error: String(error) };

/** Wraps an event handler so an exception in it is logged, never fatal to PID 1. */
export function guarded<A extends unknown[]>(
  log: Log,
  where: string,
  fn: (...args: A) => unknown,
): (...args: A) => void {
  return (...args: A) => {
    try {
      const result = fn(...args);
      if (result instanceof Promise)
        result.catch((error: unknown) => log.error("bay0.error", { where, ...describe(error) }));
    } catch (error) {
      log.error("bay0.error", { where, ...describe(error) });
    }
  };
}

/**
 * PID 1 must never exit: the kernel panics when it does. Uncaught exceptions
 * and rejections become `bay0.error` records and bay0 keeps serving; should
 * the runtime still be about to exit, bay0 syncs and reboots instead.
 */
export function installCrashGuards(log: Log, libc: Libc, on: NodeJS.Process = process): void {
  on.on("uncaughtException", (error) => log.error("bay0.error", { where: "uncaught", ...describe(error) }));
  on.on("unhandledRejection", (reason) =>
    log.error("bay0.error", { where: "unhandled-rejection", ...describe(reason) }),
  );
  on.on("exit", (code) => {
    log.error("bay0.error", { where: "exit", error: `runtime exiting with code ${code}; rebooting` });
    fatalReboot(libc);
  });
}

/** The last resort when bay0 cannot continue: flush what is written, reboot. */
export function fatalReboot(libc: Libc): void {
  libc.sync();
  libc.reboot(RB.AUTOBOOT);
}
