import { describe, expect, it } from "vitest";
import { shutdown, type ShutdownDeps } from "../../../init/shutdown.ts";
import { FakeLibc } from "../../../sys/libc-fake.ts";
import { MNT_DETACH, RB, SIG } from "../../../sys/libc.ts";
import { createLog, type LogRecord } from "../../../sys/log.ts";
import type { ProcStat } from "../../../sys/procfs.ts";

function setup(alive: () => ProcStat[]) {
  const libc = new FakeLibc();
  const timeline: string[] = [];
  const records: LogRecord[] = [];
  const log = createLog([
    (_line, record) => {
      records.push(record);
      timeline.push(`log:${record.event}`);
    },
  ]);
  let clock = 0;
  const deps: ShutdownDeps = {
    libc,
    log,
    self: 1,
    processes: alive,
    mountPoints: () => ["/", "/proc", "/sys", "/dev", "/run", "/tmp", "/sys/fs/cgroup"],
    sleep: async (ms) => {
      clock += ms;
    },
    now: () => clock,
    reap: () => undefined,
    stopStarting: () => timeline.push("stop-starting"),
    stopWatchdog: () => timeline.push("stop-watchdog"),
    beforeUnmount: async () => {
      timeline.push(
        `before-unmount after ${libc.calls
          .map((c) => c.fn)
          .filter((fn) => fn === "kill" || fn === "umount2")
          .join(",")}`,
      );
    },
    graceMs: 1000,
  };
  const origReboot = libc.reboot.bind(libc);
  libc.reboot = (command) => {
    timeline.push("reboot");
    return origReboot(command);
  };
  return { libc, deps, timeline, records };
}

describe("shutdown", () => {
  it("terms everyone, skips SIGKILL when all left, syncs, unmounts in reverse, logs complete, then powers off", async () => {
    const { libc, deps, timeline } = setup(() => [{ pid: 2, comm: "kthreadd", state: "S", ppid: 0 }]);
    await shutdown(deps, "poweroff", "test");
    const kills = libc.calls.filter((c) => c.fn === "kill").map((c) => c.args);
    expect(kills).toEqual([
      [-1, SIG.SIGTERM],
      [-1, SIG.SIGCONT],
    ]);
    expect(libc.calls.filter((c) => c.fn === "umount2").map((c) => c.args[0])).toEqual([
      "/sys/fs/cgroup",
      "/tmp",
      "/run",
    ]);
    expect(libc.calls.filter((c) => c.fn === "sync")).toHaveLength(2);
    // The vault locks once every process is gone and before anything is unmounted.
    expect(timeline).toContain("before-unmount after kill,kill");
    expect(timeline.slice(-2)).toEqual(["log:shutdown.complete", "reboot"]);
    expect(libc.calls.at(-1)).toEqual({ fn: "reboot", args: [RB.POWER_OFF] });
  });

  it("escalates to SIGKILL after the grace period and reboots when asked to", async () => {
    const stubborn: ProcStat = { pid: 50, comm: "sh", state: "S", ppid: 1 };
    const { libc, deps, records } = setup(() => [stubborn]);
    await shutdown(deps, "reboot", "test");
    expect(libc.calls.filter((c) => c.fn === "kill").map((c) => c.args[1])).toEqual([
      SIG.SIGTERM,
      SIG.SIGCONT,
      SIG.SIGKILL,
    ]);
    expect(records.find((r) => r.event === "shutdown.killing")?.processes).toBe(1);
    expect(libc.calls.at(-1)).toEqual({ fn: "reboot", args: [RB.AUTOBOOT] });
  });

  it("detaches a busy mount and reports it when even that fails", async () => {
    const { libc, deps, records } = setup(() => []);
    libc.failures.set("umount2:/tmp", 16);
    await shutdown(deps, "poweroff", "test");
    expect(libc.calls.filter((c) => c.fn === "umount2" && c.args[0] === "/tmp").map((c) => c.args[1])).toEqual([
      0,
      MNT_DETACH,
    ]);
    expect(records.find((r) => r.event === "shutdown.complete")?.unmount_failed).toEqual(["/tmp"]);
  });

  it("refuses new rooms before it signals anyone", async () => {
    const { libc, deps, timeline } = setup(() => []);
    await shutdown(deps, "poweroff", "test");
    expect(timeline.indexOf("stop-starting")).toBe(1);
    expect(libc.calls[0]).toEqual({ fn: "kill", args: [-1, SIG.SIGTERM] });
  });

  it("retries a refused reboot, falls back to power-off, then stops feeding the watchdog so the hardware resets", async () => {
    const { libc, deps, timeline, records } = setup(() => []);
    libc.failures.set("reboot", 1);
    await shutdown(deps, "reboot", "test");
    expect(libc.calls.filter((c) => c.fn === "reboot").map((c) => c.args[0])).toEqual([
      RB.AUTOBOOT,
      RB.AUTOBOOT,
      RB.AUTOBOOT,
      RB.POWER_OFF,
    ]);
    expect(records.filter((r) => r.event === "bay0.error")).toHaveLength(4);
    expect(timeline.at(-1)).toBe("stop-watchdog");
  });

  it("keeps the watchdog fed when the reboot goes through", async () => {
    const { deps, timeline } = setup(() => []);
    await shutdown(deps, "reboot", "test");
    expect(timeline).not.toContain("stop-watchdog");
  });
});
