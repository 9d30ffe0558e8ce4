import { constants, openSync, writeFileSync } from "node:fs";
import { readTextOrNull } from "./files.ts";
import type { Libc } from "./libc.ts";

export const FRAMEBUFFER: { readonly device: string; readonly sysfs: string } = {
  device: "/dev/fb0",
  sysfs: "/sys/class/graphics/fb0",
};

const errorCode = (error: unknown): string => (error as NodeJS.ErrnoException).code ?? String(error);

/**
 * bay0's part, as root: opens /dev/fb0 (the DRM driver's fbdev emulation)
 * for the console helper, which may not, and commits its mode to the screen.
 * The fd, or why there is no screen.
 */
export function openFramebufferDevice({ device, sysfs } = FRAMEBUFFER):
  { ok: true; fd: number } | { ok: false; reason: string } {
  if (readTextOrNull(`${sysfs}/virtual_size`) === null)
    return { ok: false, reason: `no framebuffer (${sysfs} is missing)` };
  let fd: number;
  try {
    fd = openSync(device, constants.O_RDWR);
  } catch (error) {
    return { ok: false, reason: `${device}: ${errorCode(error)}` };
  }
  try {
    // Without fbcon nothing has set the display mode yet: a pan commits the fbdev helper's mode to the screen.
    writeFileSync(`${sysfs}/pan`, "0,0");
  } catch (error) {
    return { ok: false, reason: `${sysfs}/pan: ${errorCode(error)}` };
  }
  return { ok: true, fd };
}

const KDSETMODE = 0x4b3a;
const KD_GRAPHICS = 1;

/**
 * Switches the kernel's virtual terminal to graphics mode, so no kernel text
 * can draw over the console (bay0's part: it needs CAP_SYS_TTY_CONFIG).
 * What became of it: "graphics", "none" (no VT), or the failure.
 */
export function vtToGraphics(libc: Libc, tty = "/dev/tty0"): string {
  let fd: number;
  try {
    fd = openSync(tty, constants.O_RDWR | constants.O_NOCTTY);
  } catch {
    return "none";
  }
  const graphics = libc.ioctl(fd, KDSETMODE, KD_GRAPHICS);
  libc.close(fd);
  return graphics.ok ? "graphics" : `failed: ${graphics.message}`;
}
