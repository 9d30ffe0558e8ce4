import { existsSync, readdirSync } from "node:fs";

/**
 * Debian's stock kernel (package linux-image-amd64): the kernel images are
 * built on until the hardened kernel replaces it. Everything the foundation
 * needs from it that is not built in is listed here and loaded by bay0.
 */
export const STOCK_MODULES = [
  "i6300esb", // the QEMU target's hardware watchdog (pulls in watchdog core)
  "button", // ACPI power button -> evdev KEY_POWER
  "evdev", // /dev/input/event* for the power button and keyboards
  "virtio_pci", // the QEMU target's disks and ports sit on virtio-pci
  "virtio_blk", // base images arrive as virtio disks
  "virtio_console", // the test port (virtio-serial)
  "dm-verity", // every base image is mapped through dm-verity
  "squashfs", // base images
  "overlay", // each room's root: image + tmpfs
] as const;

export type StockKernel = { version: string; vmlinuz: string; modulesDir: string };

/** The newest installed Debian kernel that has both an image and its modules. */
export function findStockKernel(boot = "/boot", modules = "/lib/modules"): StockKernel {
  const versions = readdirSync(modules)
    .filter((v) => existsSync(`${boot}/vmlinuz-${v}`))
    .sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  const version = versions.at(-1);
  if (version === undefined) {
    throw new Error(`no Debian kernel found (${boot}/vmlinuz-* with ${modules}/*): apt-get install linux-image-amd64`);
  }
  return { version, vmlinuz: `${boot}/vmlinuz-${version}`, modulesDir: `${modules}/${version}` };
}

/** Parses `modprobe --show-depends` output into module files, dependencies first. */
export function parseShowDepends(output: string): string[] {
  return output
    .split("\n")
    .map((line) => /^insmod (\S+)/.exec(line.trim())?.[1])
    .filter((path): path is string => path !== undefined);
}
