/**
 * Makes a FAT disk image of an ESP tree (dosfstools + mtools, no mounting):
 * what QEMU boots under OVMF and what a user writes to a real ESP.
 */
import { readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { runHostTool } from "./host-tool.ts";

function treeKiB(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const stat = statSync(path);
    total += stat.isDirectory() ? treeKiB(path) : Math.ceil(stat.size / 1024);
  }
  return total;
}

export function makeEspImage(espDir: string, image: string): string {
  rmSync(image, { force: true });
  const sizeKiB = treeKiB(espDir) + 8192;
  for (const argv of [
    ["mkfs.vfat", "-C", "-n", "ANCHOR-ESP", image, String(sizeKiB)],
    ["mcopy", "-s", "-i", image, ...readdirSync(espDir).map((n) => join(espDir, n)), "::/"],
  ]) {
    runHostTool(argv);
  }
  return image;
}
