import { spawn, type ChildProcess } from "node:child_process";
import { appendFileSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeCpio, type CpioEntry } from "../../uki/cpio.ts";
import { listBuiltImages } from "../../uki/images.ts";
import { startSwtpm } from "../../uki/swtpm.ts";
import { OVMF, qemuArgs, type BootMedia, type QemuBoot } from "../../uki/qemu.ts";
import { Qmp } from "./qmp.ts";

export const ROOT = join(import.meta.dirname, "..", "..");
export const OUT = join(ROOT, "out");
export const LOG_DIR = join(OUT, "test-logs");

/** A bay0 log record as read off the serial console, with its host arrival time. */
export type Record = { event: string; level: string; hostMs: number } & { [field: string]: unknown };

export type VmOptions = Pick<QemuBoot, "memoryMb" | "watchdogAction" | "noReboot" | "noWatchdog" | "display" | "usbKeyboard"> & {
  /** Names the serial log file under out/test-logs/. */
  name: string;
  /** Boot this ESP disk image under OVMF with Secure Boot, instead of out/vmlinuz + out/initramfs.img directly. */
  uefiEsp?: string;
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
  /** Base image disks (default: the minimal image, which web and work use). */
  images?: { name: string; file: string }[];
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

/**
 * Appends a cpio overlay to an initramfs without rebuilding it. The kernel
 * unpacks concatenated archives in order (later files replace earlier ones);
 * an uncompressed archive must start 4-byte aligned, and NUL padding is skipped.
 */
export function withOverlay(initrd: string, overlay: CpioEntry[], into: string): string {
  const base = readFileSync(initrd);
  const padding = (512 - (base.length % 512)) % 512;
  writeFileSync(into, Buffer.concat([base, Buffer.alloc(padding), writeCpio(overlay)]));
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
    if (options.uefiEsp !== undefined) {
      const varsFile = join(scratch, "OVMF_VARS.fd");
      copyFileSync(OVMF.vars, varsFile);
      media = { kind: "uefi", espImage: options.uefiEsp, varsFile };
    } else {
      const baseInitrd = options.initrd ?? join(OUT, "initramfs.img");
      const initrd = options.overlay ? withOverlay(baseInitrd, options.overlay, join(scratch, "initrd.img")) : baseInitrd;
      media = { kind: "direct", kernel: options.kernel ?? join(OUT, "vmlinuz"), initrd, append: options.append ?? [] };
    }
    const tpm = options.tpm ? await startSwtpm(join(scratch, "tpm")) : null;
    const qmpSocket = join(scratch, "qmp.sock");
    const images = options.images ?? listBuiltImages(join(OUT, "images")).filter((i) => i.name === "minimal");
    const testPortSocket = options.testPort ? join(scratch, "test-port.sock") : undefined;
    const serialSocket = options.serialSocket ? join(scratch, "serial.sock") : undefined;
    const args = qemuArgs({
      ...options,
      media,
      images,
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
      if (this.exitCode !== null) throw new Error(`VM exited (${this.exitCode}) before a line matching ${pattern}; serial log: ${this.logFile}`);
      if (Date.now() > deadline) throw new Error(`no line matching ${pattern} within ${timeoutMs} ms; serial log: ${this.logFile}`);
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
      timer = setTimeout(() => reject(new Error(`QEMU still running after ${timeoutMs} ms; serial log: ${this.logFile}`)), timeoutMs);
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
      const answer = this.records.filter((r) => r.event === "test.control").find((r, i) => i >= seen && r.command === command);
      if (answer) return answer;
      if (this.exitCode !== null || Date.now() > deadline) throw new Error(`no answer to '${command}'; serial log: ${this.logFile}`);
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
