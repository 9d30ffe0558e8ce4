import { MS, type Libc } from "../sys/libc.ts";
import { imageMountPoint } from "./plan.ts";

export type ImageFs = {
  list(dir: string): string[];
  read(path: string): string | null;
  mkdir(path: string): void;
};

/**
 * Base images arrive as read-only block devices whose serial (or, on real
 * hardware, partition label) is the image name: in QEMU, virtio disks with
 * serial=NAME. Returns name -> device path.
 */
export function discoverImageDisks(fs: ImageFs): Map<string, string> {
  const found = new Map<string, string>();
  for (const dev of fs.list("/sys/block").filter((d) => d.startsWith("vd")).sort()) {
    const serial = fs.read(`/sys/block/${dev}/serial`)?.trim();
    if (serial?.startsWith("img-")) found.set(serial.slice("img-".length), `/dev/${dev}`);
  }
  return found;
}

/** Mounts an image read-only (squashfs) where room plans expect it. Returns an error or null. */
export function mountImage(libc: Libc, fs: ImageFs, name: string, device: string): string | null {
  const target = imageMountPoint(name);
  fs.mkdir(target);
  const result = libc.mount(device, target, "squashfs", MS.RDONLY | MS.NOSUID | MS.NODEV, "");
  return result.ok ? null : `${device} on ${target}: ${result.message}`;
}
