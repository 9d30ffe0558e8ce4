import { describe, expect, it } from "vitest";
import { BOOT_TIMEOUT_MS, useProbeVm } from "./helpers.ts";

describe("Ctrl-Alt-Del: orderly reboot that escalates to SIGKILL", () => {
  const booted = useProbeVm("ctrl-alt-del", "linger.sh");

  it("reboots in order: SIGINT, SIGTERM to all, SIGKILL to the stubborn, complete, then reset", async () => {
    const { vm } = booted;
    await vm.waitFor("run.output", BOOT_TIMEOUT_MS, (r) => r.line === "linger-ready");
    await vm.sendKeys(["ctrl", "alt", "delete"]);
    const signal = await vm.waitFor("signal.received", 30_000);
    expect(signal).toMatchObject({ signal: "SIGINT", action: "reboot" });
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
