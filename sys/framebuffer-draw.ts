/** The console helper's part of the framebuffer: drawing on the one bay0 opened for it (sys/framebuffer.ts). */
import { writeSync } from "node:fs";
import { readTextOrNull } from "./files.ts";
import { FRAMEBUFFER } from "./framebuffer.ts";

/** A 32-bpp XRGB8888 framebuffer that the console writes with pwrite (no mmap needed). */
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
 * The console helper's part: the framebuffer behind `fd`, its geometry read
 * from sysfs. Throws NoFramebuffer when it is not 32 bpp or unusable.
 */
export function framebufferOn(fd: number, { device, sysfs } = FRAMEBUFFER): Framebuffer {
  const size = (readTextOrNull(`${sysfs}/virtual_size`) ?? "").trim();
  const [width = 0, height = 0] = size.split(",").map(Number);
  const bpp = Number((readTextOrNull(`${sysfs}/bits_per_pixel`) ?? "").trim());
  const stride = Number((readTextOrNull(`${sysfs}/stride`) ?? "").trim());
  if (bpp !== 32) throw new NoFramebuffer(`framebuffer is ${bpp} bpp; the console draws 32 bpp only`);
  if (!(width > 0 && height > 0 && stride >= width * 4))
    throw new NoFramebuffer(`framebuffer geometry ${size} / stride ${stride} is unusable`);
  return {
    device,
    width,
    height,
    stride,
    write: (offset, bytes) => void writeSync(fd, bytes, 0, bytes.byteLength, offset),
  };
}
