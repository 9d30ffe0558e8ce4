import { spawn, type ChildProcess } from "node:child_process";
import { appendFileSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { appendArchive, type CpioEntry } from "../../uki/cpio.ts";
import type { Slot, SystemImage, VerityImage } from "../../uki/disk.ts";
import { systemPin } from "../../uki/cmdline.ts";
import { startSwtpm } from "../../uki/swtpm.ts";
import { OVMF, qemuArgs, type BootMedia, type DiskAttachment, type QemuBoot } from "../../uki/qemu.ts";
import { builtImages, testDisk, testSystem } from "./probe-image.ts";
import { Qmp } from "./qmp.ts";

import { LOG_DIR, OUT } from "./paths.ts";

export { LOG_DIR, OUT, ROOT } from "./paths.ts";

/** A bay0 log record as read off the serial console, with its host arrival time. */
export type Record = { event: string; level: string; hostMs: number } & { [field: string]: unknown };

export type VmOptions = Pick<
  QemuBoot,
  "memoryMb" | "watchdogAction" | "noReboot" | "noWatchdog" | "display" | "usbKeyboard"
> & {
  /** Names the serial log file under out/test-logs/. */
  name: string;
  /** Boot this disk image (an Anchor disk: out/anchor.img or a variant) under OVMF with Secure Boot, instead of out/vmlinuz + out/initramfs.img directly. */
  uefiDisk?: string;
  /** UEFI boots: firmware variables without enrolled keys, so Secure Boot is off and the firmware in setup mode (default: on). */
  secureBootOff?: boolean;
  /** Keep what the guest writes to `uefiDisk` (default: a snapshot, the file stays as it was). */
  persistDisk?: boolean;
  /** Kernel command-line words added on a direct boot. */
  append?: string[];
  /** Files appended to the initramfs as a second, uncompressed cpio (test-only). */
  overlay?: CpioEntry[];
  /** Another initramfs than out/initramfs.img (benchmark baselines, the stock-kernel build). */
  initrd?: string;
  /** Another kernel than out/vmlinuz (the stock-kernel build). */
  kernel?: string;
  /** Attach a fresh swtpm TPM 2.0. */
  tpm?: boolean;
  /** Attach a swtpm TPM 2.0 whose state lives in this directory, so it survives across boots (implies tpm). */
  tpmState?: string;
  /** Direct boots: the images of slot A on a test disk, pinned by the overlay (default: the built minimal image, which web and work use). */
  images?: VerityImage[];
  /**
   * Direct boots: the system image on the test disk, pinned on the command line (default: the test-hooks system
   * image with out/vmlinuz, none with another kernel, whose initramfs is the system); `pin` overrides the pin.
   */
  system?: { image: SystemImage; pin?: string } | null;
  /** Direct boots: the slot whose partitions hold the images and the system image (default A). */
  slot?: Slot;
  /** More disks attached after the boot disk (a USB stick someone plugged in). */
  extraDisks?: string[];
  /** Add the "anchor.test" virtio-serial port; `send()` writes lines to it. */
  testPort?: boolean;
  /** Carry the serial console over a Unix socket instead of stdout, so a test can stop reading it (`pauseSerial`). */
  serialSocket?: boolean;
};

async function connectWithRetry(path: string, timeoutMs: number): Promise<Socket> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await new Promise<Socket>((resolve, reject) => {
        const socket = connect(path, () => resolve(socket));
        socket.once("error", reject);
      });
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`${path} not reachable: ${String(error)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** An initramfs with `overlay` appended (its files replace the image's). */
export function withOverlay(initrd: string, overlay: CpioEntry[], into: string): string {
  writeFileSync(into, appendArchive(readFileSync(initrd), overlay));
  return into;
}

/** One QEMU boot of out/ images: serial log, QMP, and waits on bay0's events. */
export class Vm {
  readonly records: Record[] = [];
  readonly lines: string[] = [];
  readonly logFile: string;
  /** Host time (performance.now) when QEMU was started. */
  readonly startedMs: number;
  exitCode: number | null = null;
  private readonly process: ChildProcess;
  private readonly exited: Promise<number | null>;
  private readonly listeners = new Set<() => void>();
  private readonly scratch: string;
  private partial = "";
  private testPort: Socket | null = null;
  private serial: Socket | null = null;

  private constructor(
    readonly qmp: Qmp,
    scratch: string,
    proc: ChildProcess,
    logFile: string,
    startedMs: number,
    private readonly swtpm: ChildProcess | null,
  ) {
    this.startedMs = startedMs;
    this.scratch = scratch;
    this.process = proc;
    this.logFile = logFile;
    proc.stdout?.setEncoding("utf8");
    proc.stdout?.on("data", (chunk: string) => this.onSerial(chunk));
    proc.stderr?.setEncoding("utf8");
    proc.stderr?.on("data", (chunk: string) => appendFileSync(logFile, `[qemu stderr] ${chunk}`));
    this.exited = new Promise((resolve) =>
      proc.on("exit", (code) => {
        this.exitCode = code;
        this.notify();
        resolve(code);
      }),
    );
  }

  static async boot(options: VmOptions): Promise<Vm> {
    mkdirSync(LOG_DIR, { recursive: true });
    const scratch = mkdtempSync(join(tmpdir(), "anchor-vm-"));
    const logFile = join(LOG_DIR, `${options.name}.serial.log`);
    writeFileSync(logFile, "");
    let media: BootMedia;
    let bootDisk: DiskAttachment;
    if (options.uefiDisk !== undefined) {
      const varsFile = join(scratch, "OVMF_VARS.fd");
      copyFileSync(options.secureBootOff ? OVMF.varsWithoutKeys : OVMF.vars, varsFile);
      media = { kind: "uefi", varsFile };
      bootDisk = { file: options.uefiDisk, snapshot: options.persistDisk !== true };
    } else {
      const system =
        options.system !== undefined ? options.system : options.kernel === undefined ? { image: testSystem() } : null;
      const disk = testDisk(
        join(scratch, "disk.img"),
        options.images ?? builtImages().filter((i) => i.name === "minimal"),
        system?.image ?? null,
        options.slot,
      );
      const pin: CpioEntry = {
        kind: "file",
        path: "etc/anchor/images.json",
        mode: 0o644,
        data: Buffer.from(JSON.stringify(disk.manifest)),
      };
      const initrd = withOverlay(
        options.initrd ?? join(OUT, "initramfs.img"),
        [...(options.overlay ?? []), pin],
        join(scratch, "initrd.img"),
      );
      const systemArgs = system === null ? [] : [system.pin ?? systemPin(system.image.verity)];
      media = {
        kind: "direct",
        kernel: options.kernel ?? join(OUT, "vmlinuz"),
        initrd,
        append: [...systemArgs, ...(options.append ?? [])],
      };
      bootDisk = { file: disk.file };
    }
    const tpm =
      options.tpmState !== undefined
        ? await startSwtpm(options.tpmState, scratch)
        : options.tpm
          ? await startSwtpm(join(scratch, "tpm"))
          : null;
    const qmpSocket = join(scratch, "qmp.sock");
    const testPortSocket = options.testPort ? join(scratch, "test-port.sock") : undefined;
    const serialSocket = options.serialSocket ? join(scratch, "serial.sock") : undefined;
    const args = qemuArgs({
      ...options,
      media,
      disks: [bootDisk, ...(options.extraDisks ?? []).map((file) => ({ file, readonly: true }))],
      // wait=on: QEMU starts the machine only once the test reads the console, so no line is lost.
      serial: serialSocket ? `unix:${serialSocket},server=on,wait=on` : "stdio",
      qmpSocket,
      ...(tpm ? { tpmSocket: tpm.socket } : {}),
      ...(testPortSocket ? { testPortSocket } : {}),
    });
    const startedMs = performance.now();
    const proc = spawn("qemu-system-x86_64", args, { stdio: ["ignore", "pipe", "pipe"] });
    const serial = serialSocket ? await connectWithRetry(serialSocket, 20_000) : null;
    const qmp = await Qmp.connect(qmpSocket);
    const vm = new Vm(qmp, scratch, proc, logFile, startedMs, tpm?.process ?? null);
    if (serial) {
      vm.serial = serial;
      serial.setEncoding("utf8");
      serial.on("data", (chunk: string) => vm.onSerial(chunk));
    }
    if (testPortSocket) {
      vm.testPort = await new Promise<Socket>((resolve, reject) => {
        const socket = connect(testPortSocket, () => resolve(socket));
        socket.once("error", reject);
      });
    }
    return vm;
  }

  /** Resolves with the first record matching (already seen or future); rejects on timeout or VM exit. */
  waitFor(event: string, timeoutMs: number, match: (r: Record) => boolean = () => true): Promise<Record> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const found = this.records.find((r) => r.event === event && match(r));
        if (found) {
          done();
          resolve(found);
          return true;
        }
        if (this.exitCode !== null) {
          done();
          reject(new Error(`VM exited (${this.exitCode}) before ${event}; serial log: ${this.logFile}`));
          return true;
        }
        return false;
      };
      const listener = (): void => void check();
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no ${event} within ${timeoutMs} ms; serial log: ${this.logFile}`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.listeners.delete(listener);
      };
      if (!check()) this.listeners.add(listener);
    });
  }

  /** Resolves with the first console line matching `pattern` (firmware and kernel text included). */
  async waitForLine(pattern: RegExp, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.lines.find((l) => pattern.test(l)) ?? (pattern.test(this.partial) ? this.partial : undefined);
      if (found !== undefined) return found;
      if (this.exitCode !== null)
        throw new Error(`VM exited (${this.exitCode}) before a line matching ${pattern}; serial log: ${this.logFile}`);
      if (Date.now() > deadline)
        throw new Error(`no line matching ${pattern} within ${timeoutMs} ms; serial log: ${this.logFile}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** Output lines of the anchor.run program so far. */
  runOutput(): string[] {
    return this.records.filter((r) => r.event === "run.output").map((r) => String(r.line));
  }

  /** Resolves with QEMU's exit code once it has exited by itself; rejects on timeout. */
  async waitForExit(timeoutMs: number): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`QEMU still running after ${timeoutMs} ms; serial log: ${this.logFile}`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Sends a control line to bay0 (test builds, through the "anchor.test"
   * port and the forward.sh probe) and resolves with its `test.control` answer.
   */
  async control(command: string, timeoutMs = 60_000): Promise<Record> {
    const seen = this.records.filter((r) => r.event === "test.control").length;
    this.send(command);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const answer = this.records
        .filter((r) => r.event === "test.control")
        .find((r, i) => i >= seen && r.command === command);
      if (answer) return answer;
      if (this.exitCode !== null || Date.now() > deadline)
        throw new Error(`no answer to '${command}'; serial log: ${this.logFile}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Stops reading the serial console (serialSocket boots): the guest's UART soon finds nobody listening. */
  pauseSerial(): void {
    if (!this.serial) throw new Error("VM booted without serialSocket");
    this.serial.pause();
  }

  resumeSerial(): void {
    this.serial?.resume();
  }

  /** Writes one line to the guest's "anchor.test" port. */
  send(line: string): void {
    if (!this.testPort) throw new Error("VM booted without testPort");
    this.testPort.write(`${line}\n`);
  }

  sendKeys(keys: string[]): Promise<unknown> {
    return this.qmp.command("send-key", { keys: keys.map((k) => ({ type: "qcode", data: k })) });
  }

  screendump(file: string, format: "png" | "ppm" = "png"): Promise<unknown> {
    return this.qmp.command("screendump", { filename: file, format });
  }

  powerdown(): Promise<unknown> {
    return this.qmp.command("system_powerdown");
  }

  /** The reset button: the machine restarts at once, as after a power cut (QEMU goes on unless it was told -no-reboot). */
  reset(): Promise<unknown> {
    return this.qmp.command("system_reset");
  }

  /** Stops QEMU (if still running) and removes scratch files; safe to call twice. */
  async stop(): Promise<void> {
    if (this.exitCode === null) {
      await this.qmp.command("quit").catch(() => undefined);
      await this.waitForExit(10_000).catch(() => this.process.kill("SIGKILL"));
    }
    this.qmp.close();
    this.testPort?.destroy();
    this.serial?.destroy();
    this.swtpm?.kill();
    rmSync(this.scratch, { recursive: true, force: true });
  }

  private onSerial(chunk: string): void {
    appendFileSync(this.logFile, chunk);
    this.partial += chunk;
    const lines = this.partial.split("\n");
    this.partial = lines.pop() ?? "";
    const now = performance.now();
    for (const raw of lines) {
      const line = raw.replace(/\r$/, "");
      this.lines.push(line);
      if (!line.startsWith("{")) continue;
      try {
        const parsed = JSON.parse(line) as Record;
        if (typeof parsed.event === "string") this.records.push({ ...parsed, hostMs: now });
      } catch {
        // Kernel output interleaved with a record: not a record.
      }
    }
    this.notify();
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }
}
