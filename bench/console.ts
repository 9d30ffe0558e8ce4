/**
 * The console (`npm run bench -- console`): key press to screen, bay0's load
 * with the dashboard idle against a headless boot, the console helper's
 * memory (what a second resident Bun costs) and the memory in use with three
 * rooms running.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readPpm } from "../test/qemu/screen.ts";
import { Vm } from "../test/qemu/vm.ts";
import { BOOT_TIMEOUT_MS, median, roomsOverlay, RUNS, type Row } from "./common.ts";

type ConsoleFigures = { keyToScreenMs: number; cpuPercent: number; rssMb: number };
/**
 * The console helper's memory (/proc/PID/status, MiB; this kernel has no
 * smaps): all it maps, what is its alone (anonymous and shared-memory pages),
 * and what is file-backed, bay0's own executable among it, whose pages it
 * shares with bay0.
 */
type HelperMemory = { rssMb: number; ownMb: number; fileMb: number };

/** The console helper's memory and the machine's memory in use, read by the forward probe. */
async function consoleMemory(vm: Vm): Promise<{ helper: HelperMemory; usedMb: number }> {
  vm.send(
    `sh for p in /proc/[0-9]*; do case "$(tr '\\000' ' ' < $p/cmdline 2>/dev/null)" in "/usr/lib/bay0/bay0 console ") echo "helper-mem $(grep -E '^(VmRSS|RssAnon|RssFile|RssShmem):' $p/status | tr -dc '0-9\\n' | tr '\\n' ' ')$(grep -E '^(MemTotal|MemAvailable):' /proc/meminfo | tr -dc '0-9\\n' | tr '\\n' ' ')";; esac; done`,
  );
  const line = await vm.waitFor("run.output", 60_000, (r) => String(r.line).startsWith("helper-mem "));
  const [rss = 0, anon = 0, file = 0, shmem = 0, total = 0, available = 0] = String(line.line)
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  return {
    helper: { rssMb: rss / 1024, ownMb: (anon + shmem) / 1024, fileMb: file / 1024 },
    usedMb: (total - available) / 1024,
  };
}

/** bay0's CPU share (of one CPU) over `seconds`, and its RSS, read from /proc/1 by the forward probe. */
async function bay0Load(vm: Vm, seconds: number): Promise<{ cpuPercent: number; rssMb: number }> {
  vm.send(
    `sh a=$(cut -d' ' -f14,15 /proc/1/stat); sleep ${seconds}; b=$(cut -d' ' -f14,15 /proc/1/stat); echo "load $a $b $(grep VmRSS /proc/1/status | tr -dc 0-9)"`,
  );
  const line = await vm.waitFor("run.output", (seconds + 60) * 1000, (r) => String(r.line).startsWith("load "));
  const [u1 = 0, s1 = 0, u2 = 0, s2 = 0, rssKb = 0] = String(line.line).split(" ").slice(1).map(Number);
  const ticks = u2 + s2 - (u1 + s1);
  return { cpuPercent: (ticks / 100 / seconds) * 100, rssMb: rssKb / 1024 };
}

/** The trusted console: key press to changed screen, and what an idle dashboard costs against a headless boot. */
async function consoleBench(): Promise<{
  shown: ConsoleFigures & { memory: { helper: HelperMemory; usedMb: number } };
  headless: { cpuPercent: number; rssMb: number };
}> {
  const boot = (name: string, display: boolean) =>
    Vm.boot({
      name,
      noReboot: true,
      testPort: true,
      usbKeyboard: display,
      ...(display ? {} : { display: "none" as const }),
      overlay: roomsOverlay(),
      append: ["anchor.run=/test/forward.sh"],
    });
  const headlessVm = await boot("bench-headless", false);
  let headless;
  try {
    await headlessVm.waitFor("room.started", BOOT_TIMEOUT_MS, (r) => r.room === "work");
    headless = await bay0Load(headlessVm, 10);
  } finally {
    await headlessVm.stop();
  }
  const vm = await boot("bench-console", true);
  try {
    await vm.waitFor("room.started", BOOT_TIMEOUT_MS, (r) => r.room === "work");
    await vm.waitFor("room.started", BOOT_TIMEOUT_MS, (r) => r.room === "web");
    // Three rooms running, the dashboard idle.
    await vm.control("start idle");
    const load = await bay0Load(vm, 10);
    const memory = await consoleMemory(vm);
    const scratch = mkdtempSync(join(tmpdir(), "anchor-bench-screen-"));
    // Only the launcher's "Find:" row (text row rows-6 of the 25): the rest of the dashboard changes by itself twice a second.
    const findRow = { from: (25 - 6) * 32, to: (25 - 5) * 32 };
    const dump = async (i: number): Promise<Buffer> => {
      const file = join(scratch, `s${i}.ppm`);
      await vm.screendump(file, "ppm");
      const screen = readPpm(file);
      return Buffer.from(screen.rgb.subarray(findRow.from * screen.width * 3, findRow.to * screen.width * 3));
    };
    const latencies: number[] = [];
    let n = 0;
    for (let i = 0; i < RUNS + 2; i++) {
      const before = await dump(n++);
      const sent = performance.now();
      await vm.sendKeys([i % 2 === 0 ? "x" : "backspace"]);
      for (;;) {
        const now = await dump(n++);
        if (!now.equals(before)) break;
        if (performance.now() - sent > 10_000) throw new Error("the screen did not change within 10 s of a key");
      }
      latencies.push(performance.now() - sent);
    }
    return { shown: { keyToScreenMs: median(latencies.slice(2)), ...load, memory }, headless };
  } finally {
    await vm.stop();
  }
}

export async function consoleRows(): Promise<Row[]> {
  const screen = await consoleBench();
  const { helper, usedMb } = screen.shown.memory;
  return [
    [
      "console: key press -> screen changed",
      `${screen.shown.keyToScreenMs.toFixed(0)} ms`,
      "QMP send-key to the first screendump with the typed filter (the console helper reads the key and paints)",
    ],
    [
      "console: bay0 CPU, dashboard idle",
      `${screen.shown.cpuPercent.toFixed(1)} % vs headless ${screen.headless.cpuPercent.toFixed(1)} %`,
      `difference ${(screen.shown.cpuPercent - screen.headless.cpuPercent).toFixed(1)} points`,
    ],
    [
      "console: bay0 RSS, dashboard idle",
      `${screen.shown.rssMb.toFixed(1)} MB vs headless ${screen.headless.rssMb.toFixed(1)} MB`,
      `ratio ${(screen.shown.rssMb / screen.headless.rssMb).toFixed(2)}`,
    ],
    [
      "console helper's memory",
      `RSS ${helper.rssMb.toFixed(1)} MiB: its own ${helper.ownMb.toFixed(1)} MiB, file-backed ${helper.fileMb.toFixed(1)} MiB`,
      "its own is what a second resident Bun adds (target: <= +32 MiB); file pages are shared with bay0",
    ],
    ["memory in use, dashboard + 3 rooms", `${usedMb.toFixed(1)} MiB`, "MemTotal - MemAvailable"],
  ];
}
