/**
 * `npm run boot`: boots Anchor OS in QEMU the way a device boots. The
 * machine's screen and keyboard open for the person (a window on a desktop,
 * else a VNC server on 127.0.0.1 whose address is printed first); the serial
 * console, bay0's log, stays on this terminal (Ctrl-A X quits QEMU).
 *   npm run boot               out/disk.img (a writable copy of out/anchor.img) under OVMF with
 *                              Secure Boot enforced and a software TPM whose state is in out/tpm/
 *   npm run boot -- --direct   fast path: direct kernel boot of out/vmlinuz + out/initramfs.img,
 *                              out/anchor.img attached unchanged
 *   npm run boot -- --direct anchor.watchdog_sec=10   ... with extra kernel options
 *   npm run boot -- --display none   headless (serial console only); --display vnc: VNC even on a desktop
 *   npm run boot -- --state DIR      keep disk.img and tpm/ in DIR instead of out/ (a second machine)
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { z } from "zod";
import { systemPin } from "./cmdline.ts";
import { refreshDeviceDisk } from "./disk.ts";
import { readSystemVerity, SYSTEM_VERITY_RECORD } from "./system-image.ts";
import {
  chooseView,
  OVMF,
  parseDisplayHelp,
  personBootArgs,
  VNC_BASE_PORT,
  type BootMedia,
  type DiskAttachment,
  type View,
} from "./qemu.ts";
import { startSwtpm } from "./swtpm.ts";

const OUT = join(import.meta.dir, "..", "out");
const IMAGE = join(OUT, "anchor.img");

type Cli = { direct: boolean; display: "auto" | "none" | "vnc"; state: string; append: string[] };

function parseCli(args: string[]): Cli | string {
  const cli: Cli = { direct: false, display: "auto", state: OUT, append: [] };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? "";
    if (arg === "--direct") cli.direct = true;
    else if (arg === "--display") {
      const value = z.enum(["none", "vnc"]).safeParse(args[++i]);
      if (!value.success) return "--display takes none or vnc";
      cli.display = value.data;
    } else if (arg === "--state") {
      const dir = args[++i];
      if (dir === undefined || dir === "") return "--state takes a directory";
      cli.state = resolve(dir);
    } else if (arg.startsWith("--"))
      return `unknown option ${arg} (expected --direct, --display none|vnc, --state DIR and kernel options)`;
    else cli.append.push(arg);
  }
  if (!cli.direct && cli.append.length > 0)
    return "kernel options need --direct (the signed UKI's command line is part of its signature)";
  return cli;
}

const parsed = parseCli(process.argv.slice(2));
if (typeof parsed === "string") {
  process.stderr.write(`boot: ${parsed}\n`);
  process.exit(2);
}
const cli = parsed;

const need = (file: string): string => {
  if (!existsSync(file)) {
    process.stderr.write(`boot: ${file} is missing; run npm run build first\n`);
    process.exit(1);
  }
  return file;
};

/** The first VNC display whose port nobody on this machine's loopback holds (QEMU binds it a moment later). */
async function freeVncDisplay(): Promise<number> {
  for (let display = 0; display < 100; display++) {
    const free = await new Promise<boolean>((done) => {
      const probe = createServer();
      probe.once("error", () => done(false));
      probe.listen(VNC_BASE_PORT + display, "127.0.0.1", () => probe.close(() => done(true)));
    });
    if (free) return display;
  }
  throw new Error(`no free VNC port from ${VNC_BASE_PORT} to ${VNC_BASE_PORT + 99}`);
}

const frontEnds = parseDisplayHelp(
  spawnSync("qemu-system-x86_64", ["-display", "help"], { encoding: "utf8" }).stdout ?? "",
);
const vncDisplay = cli.display === "none" ? 0 : await freeVncDisplay();
const view: View = chooseView(
  cli.display,
  { DISPLAY: process.env.DISPLAY ?? "", WAYLAND_DISPLAY: process.env.WAYLAND_DISPLAY ?? "" },
  frontEnds,
  () => vncDisplay,
);

let media: BootMedia;
let disks: DiskAttachment[];
let tpmSocket: string | undefined;
if (cli.direct) {
  // The built disk's system image, pinned as the signed UKI pins it (a stock-kernel build has none: its initramfs is the system).
  const pin = existsSync(join(OUT, SYSTEM_VERITY_RECORD)) ? [systemPin(readSystemVerity(OUT))] : [];
  media = {
    kind: "direct",
    kernel: need(join(OUT, "vmlinuz")),
    initrd: need(join(OUT, "initramfs.img")),
    append: [...pin, ...cli.append],
  };
  disks = [{ file: need(IMAGE), snapshot: true }];
} else {
  mkdirSync(cli.state, { recursive: true });
  const disk = join(cli.state, "disk.img");
  process.stdout.write(`boot: ${disk}: ${refreshDeviceDisk(need(IMAGE), disk)}\n`);
  const scratch = mkdtempSync(join(tmpdir(), "anchor-boot-"));
  const varsFile = join(scratch, "OVMF_VARS.fd");
  copyFileSync(OVMF.vars, varsFile);
  media = { kind: "uefi", varsFile };
  disks = [{ file: disk }];
  tpmSocket = (await startSwtpm(join(cli.state, "tpm"), scratch)).socket;
}

if (view.kind === "vnc") {
  const port = VNC_BASE_PORT + view.display;
  if (cli.display === "auto" && (process.env.DISPLAY || process.env.WAYLAND_DISPLAY)) {
    process.stdout.write(
      "boot: no QEMU window front end here (Debian's qemu-system-gui has GTK and SDL); showing the screen over VNC\n",
    );
  }
  process.stdout.write(`boot: the screen and keyboard: vncviewer 127.0.0.1:${port}\n`);
  process.stdout.write(
    `boot: (from another machine: ssh -L ${port}:127.0.0.1:${port} THIS-HOST, then vncviewer 127.0.0.1:${port} there)\n`,
  );
} else if (view.kind === "window") {
  process.stdout.write(
    `boot: the screen and keyboard are in QEMU's ${view.ui.toUpperCase()} window (closing it powers the machine off)\n`,
  );
}
process.stdout.write(
  `boot: starting Anchor OS under QEMU (TCG${cli.direct ? ", direct kernel boot" : ", OVMF Secure Boot, swtpm"}); the log is below; Ctrl-A X quits\n`,
);
const result = spawnSync(
  "qemu-system-x86_64",
  personBootArgs({ media, disks, view, ...(tpmSocket ? { tpmSocket } : {}) }),
  { stdio: "inherit" },
);
process.exit(result.status ?? 1);
