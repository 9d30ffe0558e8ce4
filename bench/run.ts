/**
 * `npm run bench`: measures the built image against baselines booted in the
 * same run on the same kernel, and prints ratios (absolute times under TCG
 * depend on the machine and its load; ratios much less so).
 *   boot: QEMU start -> bay0.ready, vs. a busybox /init on the same kernel
 *   UKI boot: OVMF + Secure Boot + swtpm -> bay0.ready, vs. the direct -kernel boot
 *   bay0 RSS at ready, initramfs and UKI sizes, the cold kernel build time
 *   rooms (one VM, test build of bay0): spawn latency (policy -> `true` has
 *   exited) vs bare crun on the same bundle, bwrap and a plain fork+exec;
 *   reset time; bay0's RSS with three rooms running
 *   console (`npm run bench -- console` runs only this): key press to screen,
 *   bay0's load with the dashboard idle against a headless boot, the console
 *   helper's memory (what a second resident Bun costs) and the memory in use
 *   with three rooms running
 *   courier (`npm run bench -- courier` runs only this): a 256 MiB transfer
 *   between two rooms (approved with QMP keys) vs `cp` between the same
 *   rooms' roots in the same VM, the fixed cost of one (empty) transfer, and
 *   the carrier's staging and hashing before the prompt
 *   vault (`npm run bench -- vault` runs only this): the unlock, from the PIN
 *   entered to /persist mounted, vs `cryptsetup open` with the raw volume
 *   key plus the same mount in the same VM; the TPM's share reported apart
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { kernelCacheDir, kernelCacheKey, type KernelBuildRecord } from "../kernel/build.ts";
import { writeCpio } from "../uki/cpio.ts";
import type { CpioEntry } from "../uki/cpio.ts";
import { chooseChoice, promptArmed, typeSecret } from "../test/qemu/keyboard.ts";
import { testOverlay } from "../test/qemu/overlay.ts";
import { readPpm, screenReader } from "../test/qemu/screen.ts";
import { vaultTestDisk, vaultTestUki } from "../test/qemu/vault-disk.ts";
import { pcrSigningKey } from "../uki/sign.ts";
import { OUT, ROOT, Vm, type Record } from "../test/qemu/vm.ts";

const RUNS = 3;
const BOOT_TIMEOUT_MS = 180_000;

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

/** The baseline: busybox as /init, printing a ready record once /proc is up, then powering off. */
function busyboxInitramfs(dir: string): string {
  const init = [
    "#!/bin/busybox sh",
    "/bin/busybox mount -t proc proc /proc",
    "read up idle < /proc/uptime",
    "used=$(/bin/busybox awk '/^MemTotal:/{t=$2} /^MemAvailable:/{a=$2} END{print t-a}' /proc/meminfo)",
    'echo "{\\"event\\":\\"busybox.ready\\",\\"level\\":\\"info\\",\\"uptime\\":\\"$up\\",\\"mem_used_kb\\":$used}"',
    "/bin/busybox poweroff -f",
    "",
  ].join("\n");
  const cpio = join(dir, "busybox.cpio");
  writeFileSync(
    cpio,
    writeCpio([
      { kind: "file", path: "init", mode: 0o755, data: Buffer.from(init) },
      { kind: "file", path: "bin/busybox", mode: 0o755, data: readFileSync("/bin/busybox") },
      { kind: "dir", path: "proc", mode: 0o755 },
      { kind: "char", path: "dev/console", mode: 0o600, major: 5, minor: 1 },
    ]),
  );
  const image = join(dir, "busybox.img");
  const zstd = spawnSync("zstd", ["-19", "-q", "-f", cpio, "-o", image]);
  if (zstd.status !== 0) throw new Error(`zstd failed: ${zstd.stderr}`);
  return image;
}

type Boot = { wallMs: number; guestMs: number; memUsedKb: number; rssKb?: number; timing?: Record };

async function bootOnce(
  name: string,
  ready: string,
  media: { initrd?: string; uefiDisk?: string } = {},
): Promise<Boot> {
  const vm = await Vm.boot({ name, noReboot: true, ...media, tpm: media.uefiDisk !== undefined });
  try {
    const record = await vm.waitFor(ready, BOOT_TIMEOUT_MS);
    const guestMs = ready === "bay0.ready" ? Number(record.boot_ms) : Number.parseFloat(String(record.uptime)) * 1000;
    const timing = ready === "bay0.ready" ? await vm.waitFor("boot.timing", BOOT_TIMEOUT_MS) : undefined;
    return {
      wallMs: record.hostMs - vm.startedMs,
      guestMs,
      memUsedKb: Number(record.mem_used_kb),
      ...(typeof record.rss_kb === "number" ? { rssKb: record.rss_kb } : {}),
      ...(timing ? { timing } : {}),
    };
  } finally {
    await vm.stop();
  }
}

const BENCH_ROOMS = join(ROOT, "bench", "rooms");

/** The test overlay plus the bench's policies, its in-guest script and bwrap (whose libraries the image has). */
function roomsOverlay(): CpioEntry[] {
  const policies = join(BENCH_ROOMS, "policies");
  return [
    ...testOverlay(),
    ...readdirSync(policies).map((n): CpioEntry => ({
      kind: "file",
      path: `etc/anchor/policies/${n}`,
      mode: 0o644,
      data: readFileSync(join(policies, n)),
    })),
    { kind: "file", path: "bench/compare.sh", mode: 0o755, data: readFileSync(join(BENCH_ROOMS, "compare.sh")) },
    { kind: "file", path: "usr/bin/bwrap", mode: 0o755, data: readFileSync("/usr/bin/bwrap") },
  ];
}

const guestMs = (r: Record): number => Date.parse(String(r.ts));

type RoomFigures = { spawn: number; crun: number; bwrap: number; plain: number; reset: number; rssMb: number };

async function roomsBench(): Promise<RoomFigures> {
  const vm = await Vm.boot({
    name: "bench-rooms",
    noReboot: true,
    memoryMb: 1536,
    testPort: true,
    overlay: roomsOverlay(),
    append: ["anchor.run=/test/forward.sh"],
  });
  try {
    await vm.waitFor("run.output", BOOT_TIMEOUT_MS, (r) => String(r.line).startsWith("forwarding"));
    await vm.waitFor("room.started", BOOT_TIMEOUT_MS, (r) => r.room === "work");
    const spawns: number[] = [];
    for (let i = 0; i < RUNS + 2; i++) {
      const before = vm.records.length;
      await vm.control("start true");
      const exited = await vm.waitFor(
        "room.exited",
        60_000,
        (r) => r.room === "true" && vm.records.indexOf(r) >= before,
      );
      const starting = vm.records.find((r, j) => j >= before && r.event === "room.starting" && r.room === "true");
      if (starting) spawns.push(guestMs(exited) - guestMs(starting));
      await vm.waitFor("room.removed", 60_000, (r) => r.room === "true" && vm.records.indexOf(r) >= before);
    }
    await vm.control("bundle true");
    const bundle = await vm.waitFor("test.bundle", 30_000);
    vm.send(`sh /bench/compare.sh ${String(bundle.bundle)} ${RUNS}`);
    await vm.waitFor("run.output", 300_000, (r) => r.line === "bench-done");
    const figures = (name: string): number[] =>
      vm
        .runOutput()
        .filter((l) => l.startsWith(`bench ${name}-ms=`))
        .map((l) => Number.parseFloat(l.split("=")[1] ?? ""));
    const resets: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const before = vm.records.length;
      await vm.control("reset web");
      const reset = await vm.waitFor("room.reset", 60_000, (r) => r.room === "web" && vm.records.indexOf(r) >= before);
      resets.push(Number(reset.reset_ms));
    }
    await vm.control("start idle");
    vm.send("sh grep VmRSS /proc/1/status");
    const rss = await vm.waitFor("run.output", 30_000, (r) => String(r.line).startsWith("VmRSS:"));
    return {
      spawn: median(spawns.slice(2)),
      crun: median(figures("crun")),
      bwrap: median(figures("bwrap")),
      plain: median(figures("plain")),
      reset: median(resets),
      rssMb: Number.parseInt(String(rss.line).replace(/\D+/g, ""), 10) / 1024,
    };
  } finally {
    await vm.stop();
  }
}

type ConsoleFigures = { keyToScreenMs: number; cpuPercent: number; rssMb: number };
/** The console helper's memory (smaps_rollup, MiB): what it maps, its share of what it maps (its code is bay0's file), what is its alone. */
type HelperMemory = { rssMb: number; pssMb: number; privateMb: number };

/** The console helper's memory and the machine's memory in use, read by the forward probe. */
async function consoleMemory(vm: Vm): Promise<{ helper: HelperMemory; usedMb: number }> {
  vm.send(
    `sh for p in /proc/[0-9]*; do case "$(tr '\\000' ' ' < $p/cmdline 2>/dev/null)" in "/usr/lib/bay0/bay0 console ") echo "helper-mem $(awk '/^(Rss|Pss|Private_Clean|Private_Dirty):/{printf "%s ", $2}' $p/smaps_rollup) $(awk '/^MemTotal:/{t=$2} /^MemAvailable:/{a=$2} END{print t-a}' /proc/meminfo)";; esac; done`,
  );
  const line = await vm.waitFor("run.output", 60_000, (r) => String(r.line).startsWith("helper-mem "));
  const [rss = 0, pss = 0, clean = 0, dirty = 0, used = 0] = String(line.line).split(/\s+/).slice(1).map(Number);
  return { helper: { rssMb: rss / 1024, pssMb: pss / 1024, privateMb: (clean + dirty) / 1024 }, usedMb: used / 1024 };
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

type CourierFigures = { bigMs: number; emptyMs: number; cpMs: number; sumMs: number; hashMs: number };

async function courierBench(): Promise<CourierFigures> {
  const vm = await Vm.boot({
    name: "bench-courier",
    noReboot: true,
    memoryMb: 2048,
    testPort: true,
    usbKeyboard: true,
    overlay: roomsOverlay(),
    append: ["anchor.run=/test/forward.sh"],
  });
  try {
    await vm.waitFor("run.output", BOOT_TIMEOUT_MS, (r) => String(r.line).startsWith("forwarding"));
    for (const room of ["courier-bench-inbox", "courier-bench-send"]) await vm.control(`start ${room}`);
    await vm.waitFor("room.output", 300_000, (r) => r.room === "courier-bench-send" && r.line === "bench-files-ready");
    const roots = { from: "/run/rooms/courier-bench-send/rootfs", to: "/run/rooms/courier-bench-inbox/rootfs" };
    const screen = screenReader(() => vm, "bench-courier");
    const timed = async (tag: string, command: string): Promise<number> => {
      vm.send(`sh s=$EPOCHREALTIME; ${command} >/dev/null; e=$EPOCHREALTIME; echo "${tag} $s $e"`);
      const line = await vm.waitFor("run.output", 300_000, (r) => String(r.line).startsWith(`${tag} `));
      const [, start = 0, end = 0] = String(line.line).split(" ").map(Number);
      return (end - start) * 1000;
    };
    const cps: number[] = [];
    const sums: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      cps.push(
        await timed(`cp-${i}`, `cp ${roots.from}/tmp/big.bin ${roots.to}/tmp/cp.bin && rm ${roots.to}/tmp/cp.bin`),
      );
      sums.push(await timed(`sum-${i}`, `sha256sum ${roots.from}/tmp/big.bin`));
    }
    vm.send(`sh touch ${roots.from}/tmp/go`);
    const approve = async (file: string): Promise<{ requested: Record; delivered: Record }> => {
      const requested = await vm.waitFor("courier.requested", 300_000, (r) => r.file === file);
      await chooseChoice(vm, screen, "Deliver to courier-bench-inbox: /inbox");
      return { requested, delivered: await vm.waitFor("courier.delivered", 300_000, (r) => r.file === file) };
    };
    const empty = await approve("empty");
    const answered = await vm.waitFor("umbilical.request", 60_000, (r) => r.room === "courier-bench-send");
    const big = await approve("big.bin");
    // The carrier stages and hashes before bay0 asks: roughly from the empty transfer's answer to the big file's request.
    return {
      bigMs: Number(big.delivered.ms),
      emptyMs: Number(empty.delivered.ms),
      cpMs: median(cps),
      sumMs: median(sums),
      hashMs: guestMs(big.requested) - guestMs(answered),
    };
  } finally {
    await vm.stop();
  }
}

type VaultFigures = { unlockMs: number; attachMs: number; openMs: number; mountMs: number };

/** Boots a vault disk RUNS + 1 times: provisions it, then each boot unlocks with the PIN, locks, and times a raw-key open + mount. */
async function vaultBench(): Promise<VaultFigures> {
  const scratch = mkdtempSync(join(tmpdir(), "anchor-bench-vault-"));
  const uki = join(scratch, "bench.efi");
  const disk = join(scratch, "disk.img");
  vaultTestUki(scratch, uki, [], pcrSigningKey(null, scratch));
  vaultTestDisk(disk, uki);
  const PIN = "kestrel42";
  let vm: Vm | null = null;
  const screen = screenReader(() => {
    if (vm === null) throw new Error("no VM");
    return vm;
  }, "bench-vault");
  const boot = async (name: string): Promise<Vm> => {
    const booted = await Vm.boot({
      name,
      uefiDisk: disk,
      persistDisk: true,
      tpmState: join(scratch, "tpm"),
      usbKeyboard: true,
      memoryMb: 2048,
      noReboot: true,
      testPort: true,
    });
    vm = booted;
    await booted.waitFor("run.output", BOOT_TIMEOUT_MS * 2, (r) => String(r.line).startsWith("forwarding"));
    return booted;
  };
  const type = (label: "PIN" | "New PIN", text: string): Promise<void> => {
    if (vm === null) throw new Error("no VM");
    return typeSecret(vm, screen, label, text);
  };
  const powerOff = async (booted: Vm): Promise<void> => {
    await booted.powerdown();
    await booted.waitForExit(120_000);
    await booted.stop();
  };
  try {
    const first = await boot("bench-vault-provision");
    await screen.wait(/Vault: choose a PIN/, 120_000);
    await type("New PIN", PIN);
    await screen.wait(/Vault: the same PIN again/);
    await type("New PIN", PIN);
    const device = String((await first.waitFor("vault.provisioning", 60_000)).device);
    const shown = await screen.wait(/Vault: your recovery key/, 300_000);
    const recoveryKey = (shown.join("\n").match(/[a-z]{8}(-[a-z]{8}){3}/g) ?? []).join("-");
    await promptArmed(screen);
    await first.sendKeys(["ret"]);
    await first.waitFor("vault.unlocked", 60_000);
    await powerOff(first);
    const figures: VaultFigures[] = [];
    for (let i = 0; i < RUNS; i++) {
      const booted = await boot(`bench-vault-${i}`);
      await screen.wait(/Vault: unlock/, 120_000);
      await type("PIN", PIN);
      const unlocked = await booted.waitFor("vault.unlocked", 120_000);
      await booted.sendKeys(["ctrl", "l"]);
      await screen.wait(/Lock the vault\?/);
      await chooseChoice(booted, screen, "Lock");
      await booted.waitFor("vault.locked", 60_000);
      // The raw volume key, dumped with the recovery key, opens the same volume without any keyslot or the TPM.
      const tools = "T=/usr/lib/anchor/vault; export LD_LIBRARY_PATH=$T/lib DM_DISABLE_UDEV=1; mkdir -p /run/bench-mnt";
      booted.send(
        `sh ${tools}; printf %s '${recoveryKey}' | $T/bin/cryptsetup luksDump --dump-volume-key --batch-mode --volume-key-file=/run/bench.key --key-file=- ${device} >/dev/null; s=$EPOCHREALTIME; $T/bin/cryptsetup open --volume-key-file=/run/bench.key ${device} bench; m=$EPOCHREALTIME; mount -o nosuid,nodev,noexec /dev/mapper/bench /run/bench-mnt; e=$EPOCHREALTIME; echo "raw-open $s $m $e"; umount /run/bench-mnt; $T/bin/cryptsetup close bench; rm /run/bench.key`,
      );
      const line = await booted.waitFor("run.output", 120_000, (r) => String(r.line).startsWith("raw-open "));
      const [, start = 0, opened = 0, mounted = 0] = String(line.line).split(" ").map(Number);
      figures.push({
        unlockMs: Number(unlocked.ms),
        attachMs: Number(unlocked.attach_ms),
        openMs: (opened - start) * 1000,
        mountMs: (mounted - opened) * 1000,
      });
      await powerOff(booted);
      vm = null;
    }
    const pick = (key: keyof VaultFigures): number => median(figures.map((f) => f[key]));
    return { unlockMs: pick("unlockMs"), attachMs: pick("attachMs"), openMs: pick("openMs"), mountMs: pick("mountMs") };
  } finally {
    await (vm as Vm | null)?.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (process.argv.includes("vault")) {
    const v = await vaultBench();
    const raw = v.openMs + v.mountMs;
    // systemd-cryptsetup's attach less a raw-key open: the TPM's unseal (with the PIN) and the token's keyslot.
    const tpm = Math.max(0, v.attachMs - v.openMs);
    process.stdout.write(`\nAnchor OS vault benchmark (median of ${RUNS}, TCG, swtpm)\n`);
    process.stdout.write(
      `  unlock: PIN entered -> /persist mounted  ${v.unlockMs.toFixed(0)} ms (systemd-cryptsetup attach ${v.attachMs.toFixed(0)} ms)\n`,
    );
    process.stdout.write(
      `  raw volume key: cryptsetup open + mount  ${raw.toFixed(0)} ms (open ${v.openMs.toFixed(0)} ms, mount ${v.mountMs.toFixed(0)} ms)\n`,
    );
    process.stdout.write(`  the TPM's own time (attach - raw open)   ${tpm.toFixed(0)} ms\n`);
    process.stdout.write(
      `  ratio without the TPM's time             ${((v.unlockMs - tpm) / raw).toFixed(2)} (target <= 1.5)\n`,
    );
    return;
  }
  if (process.argv.includes("console")) {
    for (const [what, value, note] of consoleRows(await consoleBench()))
      process.stdout.write(`  ${what.padEnd(34)} ${value.padEnd(42)} ${note}\n`);
    return;
  }
  if (process.argv.includes("courier")) {
    const c = await courierBench();
    process.stdout.write("\nAnchor OS courier benchmark (TCG)\n");
    process.stdout.write(
      `  256 MiB delivery (approval -> delivered: copy, link)  ${c.bigMs.toFixed(0)} ms vs cp ${c.cpMs.toFixed(0)} ms: throughput ratio ${(c.cpMs / c.bigMs).toFixed(2)} (target >= 0.9)\n`,
    );
    process.stdout.write(
      `  fixed cost of one transfer             ${c.emptyMs.toFixed(0)} ms (an empty file: crun, the courier's start, the link)\n`,
    );
    process.stdout.write(
      `  without the fixed cost                 ${(c.bigMs - c.emptyMs).toFixed(0)} ms: ratio ${(c.cpMs / (c.bigMs - c.emptyMs)).toFixed(2)}\n`,
    );
    process.stdout.write(
      `  a verified copy: cp + sha256sum        ${(c.cpMs + c.sumMs).toFixed(0)} ms (sha256sum alone ${c.sumMs.toFixed(0)} ms): ratio ${((c.cpMs + c.sumMs) / c.bigMs).toFixed(2)}\n`,
    );
    process.stdout.write(`  request -> prompt: staging + hashing 256 MiB ~${c.hashMs.toFixed(0)} ms\n`);
    return;
  }
  const scratch = mkdtempSync(join(tmpdir(), "anchor-bench-"));
  const baseline = busyboxInitramfs(scratch);
  const bay0: Boot[] = [];
  const busybox: Boot[] = [];
  const uefi: Boot[] = [];
  for (let i = 0; i < RUNS; i++) {
    // Interleave so that drift in machine load hits every kind alike.
    busybox.push(await bootOnce(`bench-busybox-${i}`, "busybox.ready", { initrd: baseline }));
    bay0.push(await bootOnce(`bench-bay0-${i}`, "bay0.ready"));
    uefi.push(await bootOnce(`bench-uefi-${i}`, "bay0.ready", { uefiDisk: join(OUT, "anchor.img") }));
    process.stdout.write(`[bench] boot run ${i + 1}/${RUNS} done\n`);
  }
  const wallBay0 = median(bay0.map((b) => b.wallMs));
  const wallBusybox = median(busybox.map((b) => b.wallMs));
  const guestBay0 = median(bay0.map((b) => b.guestMs));
  const guestBusybox = median(busybox.map((b) => b.guestMs));
  const wallUefi = median(uefi.map((b) => b.wallMs));
  const rssMb = median(bay0.map((b) => b.rssKb ?? Number.NaN)) / 1024;
  const memBay0 = median(bay0.map((b) => b.memUsedKb)) / 1024;
  const memBusybox = median(busybox.map((b) => b.memUsedKb)) / 1024;
  const sizeMb = statSync(join(OUT, "initramfs.img")).size / 1048576;
  const ukiMb = statSync(join(OUT, "anchor.efi")).size / 1048576;
  const systemMb = statSync(join(OUT, "images", "system.squashfs")).size / 1048576;
  /** The median of one boot.timing field over `boots`, as text. */
  const phase = (boots: Boot[], field: string): string => {
    const values = boots.map((b) => b.timing?.[field]).filter((v): v is number => typeof v === "number");
    return values.length === 0 ? "-" : `${median(values).toFixed(0)}`;
  };
  const phases = (boots: Boot[]): string =>
    ["firmware_ms", "kernel_ms", "preinit_ms", "bun_start_ms", "modules_ms", "duties_ms"]
      .map((f) => `${f.replace("_ms", "")} ${phase(boots, f)}`)
      .join(", ");
  const kernelRecord = join(kernelCacheDir(kernelCacheKey()), "build.json");
  const kernelBuild = existsSync(kernelRecord)
    ? (JSON.parse(readFileSync(kernelRecord, "utf8")) as KernelBuildRecord)
    : null;
  const rows: [string, string, string][] = [
    [
      "boot to ready, wall (QEMU start)",
      `bay0 ${(wallBay0 / 1000).toFixed(2)} s vs busybox ${(wallBusybox / 1000).toFixed(2)} s`,
      `ratio ${(wallBay0 / wallBusybox).toFixed(2)} (target <= 1.5)`,
    ],
    [
      "boot to ready, guest uptime",
      `bay0 ${(guestBay0 / 1000).toFixed(2)} s vs busybox ${(guestBusybox / 1000).toFixed(2)} s`,
      `ratio ${(guestBay0 / guestBusybox).toFixed(2)}`,
    ],
    [
      "UKI boot (out/anchor.img: OVMF, SB, swtpm)",
      `${(wallUefi / 1000).toFixed(2)} s vs direct ${(wallBay0 / 1000).toFixed(2)} s`,
      `ratio ${(wallUefi / wallBay0).toFixed(2)} (target <= 2)`,
    ],
    ["  where a direct boot's time goes (ms)", phases(bay0), "boot.timing"],
    ["  where a UKI boot's time goes (ms)", phases(uefi), "boot.timing (firmware: to the stub)"],
    [
      "memory in use at ready",
      `bay0 ${memBay0.toFixed(1)} MiB vs busybox ${memBusybox.toFixed(1)} MiB`,
      `+${(memBay0 - memBusybox).toFixed(1)} MiB (target <= +40)`,
    ],
    ["bay0 RSS at ready", `${rssMb.toFixed(1)} MB`, "target <= 48 MB"],
    ["initramfs size", `${sizeMb.toFixed(2)} MiB (zstd cpio: preinit)`, ""],
    ["system image", `${systemMb.toFixed(1)} MiB (zstd squashfs + verity tree, on the disk)`, ""],
    ["UKI size", `${ukiMb.toFixed(1)} MiB`, "target <= 8 MiB"],
    [
      "kernel build, cold",
      kernelBuild
        ? `${kernelBuild.seconds} s with ${kernelBuild.jobs} jobs`
        : "not recorded (cached before timing was kept)",
      "once per configuration",
    ],
  ];
  const rooms = await roomsBench();
  rows.push(
    [
      "room spawn (policy -> true exited)",
      `${rooms.spawn.toFixed(0)} ms vs bare crun ${rooms.crun.toFixed(0)} ms`,
      `ratio ${(rooms.spawn / rooms.crun).toFixed(2)} (target <= 1.2)`,
    ],
    [
      "  baselines",
      `bwrap ${rooms.bwrap.toFixed(0)} ms, plain fork+exec ${rooms.plain.toFixed(0)} ms`,
      `crun/bwrap ${(rooms.crun / rooms.bwrap).toFixed(2)}`,
    ],
    [
      "room reset",
      `${rooms.reset.toFixed(0)} ms`,
      `ratio to spawn ${(rooms.reset / rooms.spawn).toFixed(2)} (target <= 2)`,
    ],
    ["bay0 RSS, three rooms running", `${rooms.rssMb.toFixed(1)} MB`, "target <= 48 MB"],
  );
  rows.push(...consoleRows(await consoleBench()));
  process.stdout.write(`\nAnchor OS benchmark (median of ${RUNS}, TCG, same kernel)\n`);
  for (const [what, value, note] of rows) process.stdout.write(`  ${what.padEnd(34)} ${value.padEnd(42)} ${note}\n`);
}

function consoleRows(screen: Awaited<ReturnType<typeof consoleBench>>): [string, string, string][] {
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
      `RSS ${helper.rssMb.toFixed(1)} MiB, PSS ${helper.pssMb.toFixed(1)} MiB`,
      `its own (private) ${helper.privateMb.toFixed(1)} MiB (target: <= +32 MiB over the console in PID 1)`,
    ],
    ["memory in use, dashboard + 3 rooms", `${usedMb.toFixed(1)} MiB`, "MemTotal - MemAvailable"],
  ];
}

main().catch((error: unknown) => {
  process.stderr.write(`[bench] failed: ${String(error)}\n`);
  process.exit(1);
});
