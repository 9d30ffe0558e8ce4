import { constants, openSync, writeFileSync, writeSync } from "node:fs";
import { readTextOrNull } from "./files.ts";

/** A 32-bpp XRGB8888 framebuffer that bay0 writes with pwrite (no mmap needed). */
export type Framebuffer = {
  device: string;
  width: number;
  height: number;
  /** Bytes from one pixel row to the next. */
  stride: number;
  write(offset: number, bytes: Uint8Array): void;
};

/** Why there is no screen to draw on: logged as `console.absent`. */
export class NoFramebuffer extends Error {}

/**
 * Opens /dev/fb0 (the DRM driver's fbdev emulation) and reads its geometry
 * from sysfs. Throws NoFramebuffer when there is none or it is not 32 bpp.
 */
export function openFramebuffer(device = "/dev/fb0", sysfs = "/sys/class/graphics/fb0"): Framebuffer {
  const size = readTextOrNull(`${sysfs}/virtual_size`);
  if (size === null) throw new NoFramebuffer(`no framebuffer (${sysfs} is missing)`);
  const [width = 0, height = 0] = size.trim().split(",").map(Number);
  const bpp = Number((readTextOrNull(`${sysfs}/bits_per_pixel`) ?? "").trim());
  const stride = Number((readTextOrNull(`${sysfs}/stride`) ?? "").trim());
  if (bpp !== 32) throw new NoFramebuffer(`framebuffer is ${bpp} bpp; the console draws 32 bpp only`);
  if (!(width > 0 && height > 0 && stride >= width * 4)) throw new NoFramebuffer(`framebuffer geometry ${size.trim()} / stride ${stride} is unusable`);
  let fd: number;
  try {
    fd = openSync(device, constants.O_RDWR);
  } catch (error) {
    throw new NoFramebuffer(`${device}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  try {
    // Without fbcon nothing has set the display mode yet: a pan commits the fbdev helper's mode to the screen.
    writeFileSync(`${sysfs}/pan`, "0,0");
  } catch (error) {
    throw new NoFramebuffer(`${sysfs}/pan: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  return { device, width, height, stride, write: (offset, bytes) => void writeSync(fd, bytes, 0, bytes.byteLength, offset) };
}
