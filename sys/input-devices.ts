import { constants, openSync, readdirSync } from "node:fs";

/** Every evdev device there is now (bay0 opens them for the console helper, which may not). */
export function inputDevices(dir = "/dev/input"): string[] {
  try {
    return readdirSync(dir)
      .filter((n) => n.startsWith("event"))
      .sort()
      .map((n) => `${dir}/${n}`);
  } catch {
    return [];
  }
}

export const openInputDevice = (device: string): number => openSync(device, constants.O_RDONLY | constants.O_NONBLOCK);
