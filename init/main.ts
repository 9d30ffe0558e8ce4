/**
 * bay0, PID 1 of Anchor OS. preinit has made the verified system image the
 * read-only root and run stage 1 there (the essential mounts, the image's
 * modules, the hardening sysctls, the hostname); bay0 takes it from there. Each
 * duty lives in its own file under init/; this file only wires the real edge
 * (sys/) to them.
 */
// First: when module evaluation began (boot.timing).
import { EVALUATION_STARTED_MS } from "./boot-clock.ts";
import { rmSync, writeFileSync } from "node:fs";
import { tpmQueue } from "../sys/tpm-device.ts";
import { openLibc } from "../sys/libc-ffi.ts";
import { SIG } from "../sys/libc.ts";
import { openCharDevice } from "../sys/devices.ts";
import { parseJsonOrNull, readBytesOrNull, readTextOrNull } from "../sys/files.ts";
import { consoleSink, createLog, kmsgSink, relaySink, type Log, type Sink } from "../sys/log.ts";
import { FRAMEBUFFER, openFramebufferDevice, vtToGraphics } from "../sys/framebuffer.ts";
import { inputDevices, openInputDevice } from "../sys/input-devices.ts";
import { osReleaseField } from "../sys/os-release.ts";
import { listProcesses, memoryInUseKb, mountPoints } from "../sys/procfs.ts";
import { createBunSpawner } from "../sys/spawn-bun.ts";
import { startAudit } from "./audit.ts";
import { mountImagesByHelper } from "./images.ts";
import { parseCmdline } from "./cmdline.ts";
import { guarded, installCrashGuards } from "./guard.ts";
import { helperRecordSchema } from "./helper.ts";
import { bootTiming } from "./boot-timing.ts";
import { consoleAction, startConsoleLink, type ConsoleLink } from "./console-link.ts";
import { reapOrphans } from "./reaper.ts";
import type { Rooms } from "./rooms.ts";
import type { Vault } from "./vault.ts";
import { runOnce } from "./run.ts";
import { shutdown } from "./shutdown.ts";
import { createPowerControl, installSignalHandlers } from "./signals.ts";
import { installTestHooks } from "./test-hooks.ts";
import { armWatchdog } from "./watchdog.ts";

/** preinit's stage 1 records (init/preinit.c), its own events and bay0.error. */
const PREINIT_RECORDS = "/run/preinit.jsonl";
const preinitRecordSchema = helperRecordSchema("(?:boot|modules|sysctl|bay0)");
const SHUTDOWN_GRACE_MS = 5000;
const REAP_SWEEP_MS = 5000;
/** How often bay0 looks for input devices plugged in since, to hand them to the console. */
const INPUT_RESCAN_MS = 2000;
/** The vault asks at the console: it waits this long for the console helper to say whether there is a screen. */
const CONSOLE_HELLO_MS = 60_000;
const ENV = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", HOME: "/" };

/** The trusted console joins the log once it exists (it shows recent events and rooms' ends). */
const consoleFeed = relaySink();
/** The audit log joins once /run is mounted (audit/chain.ts chooses the events it keeps). */
const auditFeed = relaySink();

function openLog(): Log {
  const sinks: Sink[] = [consoleFeed.sink, auditFeed.sink];
  try {
    sinks.push(consoleSink());
  } catch {
    // No console device: /dev/kmsg still gets every record.
  }
  try {
    // Without this the kernel rate-limits and drops bay0's lines.
    writeFileSync("/proc/sys/kernel/printk_devkmsg", "on\n");
    sinks.push(kmsgSink());
  } catch {
    // No /dev/kmsg: the console still gets every record.
  }
  return createLog(sinks);
}

/** The EFI stub's (or a boot loader's) LoaderTimeInitUSec: when it started, in µs since the machine's reset. */
const LOADER_TIME_INIT = "/sys/firmware/efi/efivars/LoaderTimeInitUSec-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f";

function main(): void {
  const mainStartedMs = performance.now();
  const libc = openLibc();
  const log = openLog();
  installCrashGuards(log, libc);
  const self = libc.getpid();

  const { options, problems } = parseCmdline(readTextOrNull("/proc/cmdline") ?? "");
  for (const problem of problems) log.warn("cmdline.invalid", problem);

  // preinit's stage 1 (mounts, modules, sysctls, hostname, Ctrl-Alt-Del) said how it went: bay0 logs it as its own.
  for (const line of (readTextOrNull(PREINIT_RECORDS) ?? "").split("\n")) {
    const record = preinitRecordSchema.safeParse(parseJsonOrNull(line));
    if (!record.success) continue;
    const { level, event, ...fields } = record.data;
    log[level](event, fields);
  }
  rmSync(PREINIT_RECORDS, { force: true });

  const audit = startAudit(log, auditFeed, tpmQueue);

  const watchdog = armWatchdog(
    {
      libc,
      log,
      open: openCharDevice,
      every: (ms, fn) => {
        const timer = setInterval(guarded(log, "watchdog", fn), ms);
        return () => clearInterval(timer);
      },
    },
    options.watchdogSec,
  );

  const ownChildren = new Set<number>();
  const spawner = createBunSpawner(ENV, ownChildren);
  const reap = (): void => {
    reapOrphans({ libc, log, processes: () => listProcesses(), isOwnChild: spawner.isOwn, self });
  };
  setInterval(guarded(log, "reaper", reap), REAP_SWEEP_MS);

  let rooms: Rooms | null = null;
  let trusted: ConsoleLink | null = null;
  let vault: Vault | null = null;
  const requestShutdown = createPowerControl(log, (action, reason) =>
    shutdown(
      {
        libc,
        log,
        self,
        processes: () => listProcesses(),
        mountPoints: () => mountPoints(),
        sleep: Bun.sleep,
        now: Date.now,
        reap,
        stopStarting: () => {
          rooms?.supervisor.stopAccepting();
          rooms?.umbilical.stopRestarting();
          rooms?.builder.stopRestarting();
          trusted?.stopRestarting();
          vault?.shuttingDown();
        },
        beforeUnmount: async () => void (await vault?.lock("shutdown")),
        stopWatchdog: () => watchdog?.stop(),
        graceMs: SHUTDOWN_GRACE_MS,
      },
      action,
      reason,
    ),
  );
  installSignalHandlers(process, log, { shutdown: requestShutdown, childExited: reap });

  // preinit's, from the GPT label of the system partition it mapped; none on the stock kernel's boot.
  const slot = process.env.ANCHOR_SLOT === "a" || process.env.ANCHOR_SLOT === "b" ? process.env.ANCHOR_SLOT : null;
  const uptime = Number.parseFloat((readTextOrNull("/proc/uptime") ?? "0").split(" ")[0] ?? "0");
  log.info("bay0.ready", {
    pid: self,
    version: osReleaseField(readTextOrNull("/etc/os-release") ?? "", "IMAGE_VERSION"),
    slot,
    system: options.system,
    boot_ms: Math.round(uptime * 1000),
    rss_kb: Math.round(process.memoryUsage().rss / 1024),
    mem_used_kb: memoryInUseKb(readTextOrNull("/proc/meminfo") ?? ""),
  });
  log.info(
    "boot.timing",
    bootTiming({
      preinit: process.env.ANCHOR_PREINIT_MS,
      firmwareVar: readBytesOrNull(LOADER_TIME_INIT),
      evaluationStartedMs: EVALUATION_STARTED_MS,
      mainStartedMs,
      readyMs: performance.now(),
    }),
  );
  reap();

  // Rooms and the console come after ready, loaded only then: bay0's own duties first (the watchdog is
  // fed meanwhile), the policy, image and screen work after. Evaluating their modules takes a second under TCG.
  const startWorld = async (): Promise<void> => {
    const [{ startRooms }, { startVault }, updates] = await Promise.all([
      import("./rooms.ts"),
      import("./vault.ts"),
      import("./update.ts"),
    ]);
    // Only now: a second Bun starting beside the evaluation of these modules slows both, and the watchdog waits on them.
    const mounted = mountImagesByHelper(spawner, log, (pid) => void libc.kill(pid, SIG.SIGKILL), slot ?? "a").catch(
      (error: unknown) => {
        log.error("image.failed", { reason: `the image helper did not start: ${String(error)}` });
        return null;
      },
    );
    const ask = () => trusted?.ask() ?? null;
    /** The VT's state once bay0 put it into graphics mode (once a boot). */
    let vt: string | null = null;
    rooms = startRooms({ libc, log, spawner, ask, vault: () => vault, mounted }, options.autostart);
    const started = rooms;
    setInterval(
      guarded(log, "rooms.oom", () => started?.supervisor.checkOom()),
      2000,
    );
    const link = startConsoleLink({
      libc,
      log,
      spawner,
      now: () => performance.now(),
      state: () => ({
        rooms: started?.supervisor.snapshot() ?? [],
        policies: [...(started?.policies.keys() ?? [])],
        vault: vault?.state() ?? "not set up",
        watchdog: watchdog === null ? "absent" : `armed, ${options.watchdogSec} s`,
      }),
      terminals: () => started?.supervisor.terminals() ?? [],
      act: (action, room) => consoleAction(started, vault, action, room),
      power: (device) => {
        log.info("power.button", { device });
        requestShutdown("poweroff", "power-button");
      },
      ctrlAltDel: (device) => {
        log.info("input.ctrl_alt_del", { device });
        requestShutdown("reboot", "ctrl-alt-del");
      },
      devices: {
        screen: () => {
          const framebuffer = openFramebufferDevice();
          if (!framebuffer.ok) return framebuffer;
          vt ??= vtToGraphics(libc);
          return { ...framebuffer, device: FRAMEBUFFER.device, vt };
        },
        inputs: () => inputDevices(),
        openInput: openInputDevice,
      },
    });
    trusted = link;
    started?.supervisor.onTerminal(link.terminal);
    consoleFeed.attach(link.record);
    setInterval(guarded(log, "console", link.check), link.every);
    setInterval(guarded(log, "input.rescan", link.rescan), INPUT_RESCAN_MS);
    // The vault's tools are an image: the vault waits for them.
    const partition = (await mounted)?.vault ?? null;
    const stopRooms = async (): Promise<string[]> => {
      const seeing = (started?.supervisor.list() ?? [])
        .filter((room) => room.plan.policy.vault !== undefined)
        .map((room) => room.id);
      await Promise.all(seeing.map((id) => started?.supervisor.kill(id)));
      return seeing;
    };
    // Whether the vault can ask for a PIN depends on the screen, which the console helper reports.
    await Promise.race([link.ready, Bun.sleep(CONSOLE_HELLO_MS)]);
    const updating = { spawner, log, sleep: Bun.sleep };
    // A version on trial asks for no PIN before it is blessed (init/update.ts says why).
    if (updates.onTrial()) {
      const healthy = updates.health(started, Bun.sleep);
      if (!(await updates.blessWhenHealthy(updating, healthy, () => requestShutdown("reboot", "update-unhealthy"))))
        return;
    } else if (slot !== null) void updates.offerUpdates(updating, slot, ask());
    if (partition !== null) vault = startVault({ libc, log, spawner, ask, stopRooms, audit }, partition);
    if (ANCHOR_TEST_HOOKS) installTestHooks(process, log, started, link);
    if (options.run !== null) void runOnce(spawner, log, options.run);
  };
  startWorld().catch((error: unknown) => log.error("bay0.error", { where: "start", error: String(error) }));
}

// The courier is this same program, started by bay0 under crun as a room's user (courier/sandbox.ts). preinit
// execs bay0 with no arguments, so the machine's PID 1 is never the courier (which is PID 1 of its own namespace).
// Mounting the base images (rooms/mount-images.ts), provisioning or opening the vault (vault/open.ts), the trusted
// console (console/main.ts), the umbilical's server (umbilical/serve.ts), the room builder (rooms/builder.ts), the
// updates (update/run.ts) and a transfer's carrier (courier/carry.ts) are helpers in the same way, started by bay0 (init/helper.ts).
if (process.argv[2] === "courier")
  void import("../courier/deliver.ts").then(({ runCourier }) => runCourier(process.argv.slice(3)));
else if (process.argv[2] === "mount-images")
  void import("../rooms/mount-images.ts").then(({ runMountImages }) => runMountImages(process.argv.slice(3)));
else if (process.argv[2] === "vault-open")
  void import("../vault/open.ts").then(({ runVaultOpen }) => runVaultOpen(process.argv.slice(3)));
else if (process.argv[2] === "courier-carry") void import("../courier/carry.ts").then(({ runCarry }) => runCarry());
else if (process.argv[2] === "console") void import("../console/main.ts").then(({ runConsole }) => runConsole());
else if (process.argv[2] === "umbilical")
  void import("../umbilical/serve.ts").then(({ runUmbilical }) => runUmbilical());
else if (process.argv[2] === "builder")
  void import("../rooms/builder.ts").then(({ runRoomBuilder }) => runRoomBuilder());
else if (process.argv[2] === "update")
  void import("../update/run.ts").then(({ runUpdate }) => runUpdate(process.argv.slice(3)));
else if (process.argv[2] === "vault-rekey")
  void import("../vault/rekey.ts").then(({ runVaultRekey }) => runVaultRekey(process.argv.slice(3)));
else main();
