import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { consoleFont, readPpm, readText } from "../qemu/screen.ts";
import { OUT } from "../qemu/vm.ts";
import { BOOT_TIMEOUT_MS, useProbeVm } from "./helpers.ts";

describe("Ctrl-Alt-Del: orderly reboot that escalates to SIGKILL (1024x768 screen, PS/2 keyboard)", () => {
  const booted = useProbeVm("ctrl-alt-del", "linger.sh", { display: { xres: 1024, yres: 768 } });

  it("fits the console to a 1024x768 screen: 64x24 cells, the trust line on top", async () => {
    const { vm } = booted;
    const ready = await vm.waitFor("console.ready", BOOT_TIMEOUT_MS);
    expect(ready).toMatchObject({ width: 1024, height: 768, cols: 64, rows: 24 });
    // The trust line shows the vault's state once bay0 knows it (no TPM here: unavailable); the dashboard redraws twice a second.
    await vm.waitFor("vault.absent", BOOT_TIMEOUT_MS);
    await new Promise((r) => setTimeout(r, 1500));
    const file = join(OUT, "test-logs", "console-1024.ppm");
    await vm.screendump(file, "ppm");
    const screen = readPpm(file);
    expect([screen.width, screen.height]).toEqual([1024, 768]);
    expect(readText(screen, consoleFont())[0]).toMatch(/^ ANCHOR  bay0 +vault: unavailable  \d\d:\d\d $/);
  });

  it("reboots in order on Ctrl-Alt-Del from the grabbed PS/2 keyboard: SIGTERM to all, SIGKILL to the stubborn, complete, then reset", async () => {
    const { vm } = booted;
    await vm.waitFor("run.output", BOOT_TIMEOUT_MS, (r) => r.line === "linger-ready");
    const ps2 = await vm.waitFor("input.grabbed", 0, (r) => r.name === "AT Translated Set 2 keyboard");
    expect(ps2.ok).toBe(true);
    await vm.sendKeys(["ctrl", "alt", "delete"]);
    // The grab hides the chord from the kernel (no SIGINT): bay0 sees it on the keyboard itself.
    const chord = await vm.waitFor("input.ctrl_alt_del", 30_000);
    expect(chord.device).toBe(ps2.device);
    expect(await vm.waitFor("shutdown.begin", 30_000)).toMatchObject({ action: "reboot", reason: "ctrl-alt-del" });
    expect(vm.records.some((r) => r.event === "signal.received")).toBe(false);
    const killing = await vm.waitFor("shutdown.killing", 30_000);
    expect(killing.processes).toBeGreaterThanOrEqual(1);
    const complete = await vm.waitFor("shutdown.complete", 30_000);
    expect(complete.action).toBe("reboot");
    // With -no-reboot, QEMU turns the guest's reset into an exit and says why.
    await vm.waitForExit(30_000);
    const shutdown = await vm.qmp.waitForEvent("SHUTDOWN", 0);
    expect(shutdown.data?.reason).toBe("guest-reset");
    const begin = vm.records.find((r) => r.event === "shutdown.begin");
    expect(begin?.hostMs).toBeLessThan(killing.hostMs);
    expect(killing.hostMs).toBeLessThanOrEqual(complete.hostMs);
  });
});

describe("SIGTERM to PID 1: orderly power-off, on a machine without a watchdog", () => {
  const booted = useProbeVm("sigterm", "sigterm.sh", { noWatchdog: true });

  it("reports the missing watchdog as watchdog.absent and leaves no file in its place", async () => {
    const { vm } = booted;
    const absent = await vm.waitFor("watchdog.absent", BOOT_TIMEOUT_MS);
    expect(absent.device).toBe("/dev/watchdog");
    expect(vm.records.some((r) => r.event === "watchdog.armed")).toBe(false);
    await vm.waitFor("run.output", BOOT_TIMEOUT_MS, (r) => String(r.line).startsWith("watchdog-node="));
    expect(vm.runOutput()).toContain("watchdog-node=none");
  });

  it("powers off after logging shutdown.complete", async () => {
    const { vm } = booted;
    const signal = await vm.waitFor("signal.received", BOOT_TIMEOUT_MS);
    expect(signal).toMatchObject({ signal: "SIGTERM", action: "poweroff" });
    const complete = await vm.waitFor("shutdown.complete", 30_000);
    expect(complete.action).toBe("poweroff");
    await vm.waitForExit(30_000);
    const shutdown = await vm.qmp.waitForEvent("SHUTDOWN", 0);
    expect(shutdown.data?.reason).toBe("guest-shutdown");
  });
});
