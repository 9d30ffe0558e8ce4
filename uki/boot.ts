/**
 * `npm run boot`: boots the built image in QEMU with the serial console on
 * this terminal (Ctrl-A X quits QEMU).
 *   npm run boot                       direct kernel boot of out/vmlinuz + out/initramfs.img
 *   npm run boot -- anchor.watchdog_sec=10   ... with extra kernel options
 *   npm run boot -- --uefi             the signed UKI from out/esp/ under OVMF with Secure
 *                                      Boot enforced and a software TPM (state in out/tpm/)
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { makeEspImage } from "./esp.ts";
import { listBuiltImages } from "./images.ts";
import { OVMF, qemuArgs, type BootMedia } from "./qemu.ts";
import { startSwtpm } from "./swtpm.ts";

const OUT = join(import.meta.dir, "..", "out");

const cli = z
  .array(z.string())
  .transform((args) => ({ uefi: args.includes("--uefi"), append: args.filter((a) => a !== "--uefi") }))
  .refine((c) => !(c.uefi && c.append.length > 0), "kernel options cannot be added to the signed UKI (its command line is part of the signature)")
  .refine((c) => c.append.every((a) => !a.startsWith("--")), "unknown option (expected --uefi or kernel options)")
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
let tpmSocket: string | undefined;
if (cli.data.uefi) {
  const scratch = mkdtempSync(join(tmpdir(), "anchor-boot-"));
  const varsFile = join(scratch, "OVMF_VARS.fd");
  copyFileSync(OVMF.vars, varsFile);
  media = { kind: "uefi", espImage: makeEspImage(need(join(OUT, "esp")), join(scratch, "esp.img")), varsFile };
  tpmSocket = (await startSwtpm(join(OUT, "tpm"), scratch)).socket;
} else {
  media = { kind: "direct", kernel: need(join(OUT, "vmlinuz")), initrd: need(join(OUT, "initramfs.img")), append: cli.data.append };
}
process.stdout.write(`boot: starting Anchor OS under QEMU (TCG${cli.data.uefi ? ", OVMF Secure Boot, swtpm" : ""}); Ctrl-A X quits\n`);
const result = spawnSync("qemu-system-x86_64", qemuArgs({ media, images: listBuiltImages(join(OUT, "images")), serial: "mon:stdio", ...(tpmSocket ? { tpmSocket } : {}) }), { stdio: "inherit" });
process.exit(result.status ?? 1);
