import { closeSync, constants, fstatSync, openSync } from "node:fs";

/** Why a device could not be opened: `absent` when there is no such device here at all. */
export class DeviceError extends Error {
  constructor(
    readonly path: string,
    readonly absent: boolean,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Opens an existing character device (for writing unless `flags` say else). Never creates anything:
 * with O_CREAT a missing /dev/watchdog would become a regular file that
 * takes every write and feeds nothing. Throws DeviceError.
 */
export function openCharDevice(path: string, flags: number = constants.O_WRONLY): number {
  let fd: number;
  try {
    fd = openSync(path, flags | constants.O_NOCTTY);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const absent = code === "ENOENT" || code === "ENODEV" || code === "ENXIO";
    throw new DeviceError(path, absent, `${path}: ${code ?? String(error)}`);
  }
  if (!fstatSync(fd).isCharacterDevice()) {
    closeSync(fd);
    throw new DeviceError(path, true, `${path} is not a character device`);
  }
  return fd;
}
