/**
 * `npm run boot`: boots Anchor OS in QEMU the way a device boots, with the
 * serial console on this terminal (Ctrl-A X quits QEMU).
 *   npm run boot               out/disk.img (a writable copy of out/anchor.img) under OVMF with
 *                              Secure Boot enforced and a software TPM whose state is in out/tpm/
 *   npm run boot -- --direct   fast path: direct kernel boot of out/vmlinuz + out/initramfs.img,
 *                              out/anchor.img attached unchanged
 *   npm run boot -- --direct anchor.watchdog_sec=10   ... with extra kernel options
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { refreshDeviceDisk } from "./disk.ts";
import { OVMF, qemuArgs, type BootMedia, type DiskAttachment } from "./qemu.ts";
import { startSwtpm } from "./swtpm.ts";

const OUT = join(import.meta.dir, "..", "out");
const IMAGE = join(OUT, "anchor.img");
const DISK = join(OUT, "disk.img");

const cli = z
  .array(z.string())
  .transform((args) => ({ direct: args.includes("--direct"), append: args.filter((a) => a !== "--direct") }))
  .refine((c) => c.direct || c.append.length === 0, "kernel options need --direct (the signed UKI's command line is part of its signature)")
  .refine((c) => c.append.every((a) => !a.startsWith("--")), "unknown option (expected --direct and kernel options)")
  .safeParse(process.argv.slice(2));
if (!cli.success) {
  process.stderr.write(`boot: ${cli.error.issues.map((i) => i.message).join("; ")}\n`);
  process.exit(2);
}

const need = (file: string): string => {
  if (!existsSync(file)) {
    process.stderr.write(`boot: ${file} is missing; run npm run build first\n`);
    process.exit(1);
  }
  return file;
};

let media: BootMedia;
let disks: DiskAttachment[];
let tpmSocket: string | undefined;
if (cli.data.direct) {
  media = { kind: "direct", kernel: need(join(OUT, "vmlinuz")), initrd: need(join(OUT, "initramfs.img")), append: cli.data.append };
  disks = [{ file: need(IMAGE), snapshot: true }];
} else {
  process.stdout.write(`boot: ${DISK}: ${refreshDeviceDisk(need(IMAGE), DISK)}\n`);
  const scratch = mkdtempSync(join(tmpdir(), "anchor-boot-"));
  const varsFile = join(scratch, "OVMF_VARS.fd");
  copyFileSync(OVMF.vars, varsFile);
  media = { kind: "uefi", varsFile };
  disks = [{ file: DISK }];
  tpmSocket = (await startSwtpm(join(OUT, "tpm"), scratch)).socket;
}
process.stdout.write(`boot: starting Anchor OS under QEMU (TCG${cli.data.direct ? ", direct kernel boot" : ", OVMF Secure Boot, swtpm"}); Ctrl-A X quits\n`);
const result = spawnSync("qemu-system-x86_64", qemuArgs({ media, disks, serial: "mon:stdio", ...(tpmSocket ? { tpmSocket } : {}) }), { stdio: "inherit" });
process.exit(result.status ?? 1);
