import type { Libc } from "../sys/libc.ts";
import type { Log } from "../sys/log.ts";

/** Written by the image build: the modules bay0 loads, dependencies first. */
export const MODULE_ORDER_FILE = "/lib/modules/anchor.order";

export type ModuleDeps = {
  libc: Libc;
  log: Log;
  readText: (path: string) => string | null;
  openRead: (path: string) => number;
  close: (fd: number) => void;
  writeText: (path: string, text: string) => void;
};

const EEXIST = 17;

/**
 * Loads the image's own kernel modules (a stock kernel needs them for the
 * watchdog, power button and evdev), then forbids any further module loads
 * (`kernel.modules_disabled=1`). On a kernel built without module support
 * there is nothing to do. Returns the modules that failed to load.
 */
export function loadModulesThenLock(deps: ModuleDeps): string[] {
  if (deps.readText("/proc/modules") === null) {
    deps.log.info("modules.none", { reason: "kernel has no module support" });
    return [];
  }
  const order = (deps.readText(MODULE_ORDER_FILE) ?? "").split("\n").filter((l) => l.trim() !== "");
  const loaded: string[] = [];
  const failed: string[] = [];
  for (const path of order) {
    try {
      const fd = deps.openRead(path);
      const result = deps.libc.finitModule(fd);
      deps.close(fd);
      if (result.ok || result.errno === EEXIST) loaded.push(path);
      else {
        failed.push(path);
        deps.log.error("modules.failed", { module: path, error: result.message });
      }
    } catch (error) {
      failed.push(path);
      deps.log.error("modules.failed", { module: path, error: String(error) });
    }
  }
  try {
    deps.writeText("/proc/sys/kernel/modules_disabled", "1");
    deps.log.info("modules.loaded", { modules: loaded, modules_disabled: true });
  } catch (error) {
    deps.log.error("modules.lock_failed", { error: String(error) });
  }
  return failed;
}
