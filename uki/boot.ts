/**
 * `npm run boot`: boots the built images in QEMU with the serial console on
 * this terminal (Ctrl-A X quits QEMU). Extra arguments are passed to the
 * kernel command line, e.g. `npm run boot -- anchor.watchdog_sec=10`.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { qemuArgs } from "./qemu.ts";

const OUT = join(import.meta.dir, "..", "out");
const kernel = join(OUT, "vmlinuz");
const initrd = join(OUT, "initramfs.img");
for (const file of [kernel, initrd]) {
  if (!existsSync(file)) {
    process.stderr.write(`boot: ${file} is missing; run npm run build first\n`);
    process.exit(1);
  }
}
process.stdout.write("boot: starting Anchor OS under QEMU (TCG); Ctrl-A X quits\n");
const result = spawnSync("qemu-system-x86_64", qemuArgs({ kernel, initrd, append: process.argv.slice(2), serial: "mon:stdio" }), {
  stdio: "inherit",
});
process.exit(result.status ?? 1);
