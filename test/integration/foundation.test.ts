import { beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { testSystem } from "../qemu/probe-image.ts";
import { OUT, ROOT, type Record } from "../qemu/vm.ts";
import { BOOT_TIMEOUT_MS, parseMountinfo, useProbeVm } from "./helpers.ts";
import { packageVersion } from "../../uki/version.ts";

describe("bay0 as PID 1 (one boot: foundation probe, then ACPI power-off)", () => {
  const booted = useProbeVm("foundation", "foundation.sh", {
    append: ["anchor.watchdog_sec=banana", "anchor.bogus=1"],
    tpm: true,
  });
  let exited: Record;
  let output: string[] = [];
  beforeAll(async () => {
    exited = await booted.vm.waitFor("run.exited", BOOT_TIMEOUT_MS);
    output = booted.vm.runOutput();
  });
  const value = (key: string): string | undefined => output.find((l) => l.startsWith(`${key}=`))?.slice(key.length + 1);

  it("is PID 1 and reports ready with its pid, boot time, the image's version and the slot it runs from", async () => {
    const ready = await booted.vm.waitFor("bay0.ready", 0);
    expect(ready.pid).toBe(1);
    expect(ready).toMatchObject({ version: packageVersion(), slot: "a" });
    expect(ready.boot_ms).toBeGreaterThan(0);
    expect(value("pid1-exe")).toBe("/usr/lib/bay0/bay0");
    expect(value("hostname")).toBe("anchor");
  });

  it("mounts the essentials with the right options on a read-only root", () => {
    const mounts = parseMountinfo(
      output.filter((l) => l.startsWith("mountinfo ")).map((l) => l.slice("mountinfo ".length)),
    );
    const at = (target: string) => {
      const mount = mounts.get(target);
      if (!mount) throw new Error(`${target} is not mounted: ${[...mounts.keys()].join(" ")}`);
      return mount;
    };
    expect(at("/").options).toContain("ro");
    // The initramfs's files laid over the verified system image (preinit).
    expect(at("/").fstype).toBe("overlay");
    expect(value("root-write")).toBe("refused");
    for (const target of ["/run", "/tmp", "/dev/shm"]) {
      expect(at(target).fstype).toBe("tmpfs");
      expect(at(target).options).toEqual(expect.arrayContaining(["rw", "nosuid", "nodev"]));
    }
    expect(at("/dev/pts").fstype).toBe("devpts");
    expect(at("/proc").fstype).toBe("proc");
    expect(at("/sys").fstype).toBe("sysfs");
    expect(at("/dev").fstype).toBe("devtmpfs");
    expect(at("/sys/fs/cgroup").fstype).toBe("cgroup2");
    expect(at("/sys/fs/cgroup").superOptions).toEqual(expect.arrayContaining(["nsdelegate", "memory_recursiveprot"]));
    expect(at("/sys/kernel/security").fstype).toBe("securityfs");
  });

  it("runs from the system image the command line pins, and says where the boot's time went", async () => {
    expect((await booted.vm.waitFor("bay0.ready", 0)).system).toBe(testSystem().verity.root_hash);
    const timing = await booted.vm.waitFor("boot.timing", 0);
    // A direct boot: no firmware figure.
    expect(timing.firmware_ms).toBeNull();
    for (const phase of ["kernel_ms", "preinit_ms", "bun_start_ms", "modules_ms", "duties_ms"])
      expect(timing[phase], phase).toBeGreaterThanOrEqual(0);
    expect(Number(timing.kernel_ms)).toBeGreaterThan(0);
  });

  it("has moved the system root off the initramfs, so pivot_root works for rooms", () => {
    expect(value("pivot-root")).toBe("ok");
  });

  it("runs the hardened kernel: no module support at all, lockdown in confidentiality mode", async () => {
    expect(value("module-support")).toBe("absent");
    expect(value("lockdown")).toBe("none integrity [confidentiality]");
    expect(await booted.vm.waitFor("kernel.hardening", 60_000)).toMatchObject({
      modules: "impossible",
      lockdown: "confidentiality",
      lsm: expect.arrayContaining(["landlock", "lockdown", "yama"]),
    });
  });

  it("sets the fs.protected_* and kernel hardening sysctls before anything else runs", async () => {
    const sysctls = Object.fromEntries(
      booted.vm
        .runOutput()
        .filter((l) => l.startsWith("sysctl "))
        .map((l) => l.slice("sysctl ".length).split("=") as [string, string]),
    );
    expect(sysctls).toEqual({
      "fs/protected_hardlinks": "1",
      "fs/protected_symlinks": "1",
      "fs/protected_fifos": "1",
      "fs/protected_regular": "1",
      "kernel/kptr_restrict": "2",
      "vm/mmap_min_addr": "65536",
    });
    const hardened = await booted.vm.waitFor("sysctl.hardened", 0);
    expect(hardened.failed).toEqual([]);
  });

  it("reaps all 100 orphans while its own child keeps its real exit status", () => {
    expect(value("orphans-started")).toBe("100");
    expect(value("orphan-zombies")).toBe("0");
    expect(value("orphans-left")).toBe("0");
    const reapedSleeps = booted.vm.records.filter(
      (r) => r.event === "child.reaped" && r.comm === "sleep" && r.status === 0,
    );
    expect(reapedSleeps.length).toBeGreaterThanOrEqual(100);
    expect(exited.status).toBe(42);
  });

  it("logs an exception inside an event handler as bay0.error and keeps serving", () => {
    const error = booted.vm.records.find((r) => r.event === "bay0.error" && r.where === "signal:SIGUSR1");
    expect(error?.error).toMatch(/exception inside an event handler/);
    expect(output).toContain("probe-done");
    // bay0 went on to stream the probe's output and learn its exit after the throw.
    expect(exited.hostMs).toBeGreaterThan(error?.hostMs ?? Infinity);
  });

  it("keeps a hash-chained audit log under /run/anchor, anchored in PCR 15, that the host verifier accepts; one edit or a cut tail breaks it", () => {
    const lines = output.filter((l) => l.startsWith("audit ")).map((l) => l.slice("audit ".length));
    const events = lines.map((l) => JSON.parse(l) as { event: string; room?: string });
    expect(events.map((e) => e.event)).toContain("watchdog.armed");
    expect(events.filter((e) => e.event === "room.started").map((e) => e.room)).toEqual(["web", "work"]);
    const dir = mkdtempSync(join(tmpdir(), "anchor-audit-"));
    try {
      const pcr = value("audit-pcr") ?? "";
      expect(pcr).toMatch(/^[0-9A-F]{64}$/i);
      const verify = (text: string, ...extra: string[]) => {
        writeFileSync(join(dir, "audit.jsonl"), text);
        return spawnSync(
          join(ROOT, "node_modules", ".bin", "bun"),
          [join(ROOT, "audit", "cli.ts"), "verify", join(dir, "audit.jsonl"), ...extra],
          { encoding: "utf8" },
        );
      };
      const intact = verify(`${lines.join("\n")}\n`, "--pcr", pcr);
      expect(intact.status, intact.stdout + intact.stderr).toBe(0);
      expect(intact.stdout).toMatch(new RegExp(`intact, ${lines.length} records, .* \\(matches the TPM\\)`));
      const cut = verify(`${lines.slice(0, -1).join("\n")}\n`, "--pcr", pcr);
      expect(cut.status).toBe(1);
      expect(cut.stdout).toMatch(/cut from its end/);
      const at = lines.findIndex((l) => l.includes('"room":"web"'));
      expect(at).toBeGreaterThanOrEqual(0);
      const edited = verify(
        `${lines.map((l, i) => (i === at ? l.replace('"room":"web"', '"room":"wab"') : l)).join("\n")}\n`,
      );
      expect(edited.status).toBe(1);
      // The edited record itself still parses; the one after it no longer chains to it.
      expect(edited.stdout).toMatch(new RegExp(`broken at line ${at + 2}: prev does not match`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("reports malformed anchor.* options and boots with the defaults", async () => {
    const invalid = booted.vm.records.filter((r) => r.event === "cmdline.invalid");
    expect(invalid.map((r) => r.option)).toEqual(["anchor.watchdog_sec", "anchor.bogus"]);
    expect(invalid[0]?.reason).toMatch(/whole number/);
    const armed = await booted.vm.waitFor("watchdog.armed", 0);
    expect(armed.timeout_sec).toBe(30);
  });

  it("answers QMP screendump with a PNG of the screen", async () => {
    const file = join(OUT, "test-logs", "foundation.png");
    await booted.vm.screendump(file);
    expect(readFileSync(file).subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  });

  it("powers off in order on the ACPI power button, and QEMU exits by itself", async () => {
    await booted.vm.powerdown();
    await booted.vm.waitFor("power.button", 30_000);
    const complete = await booted.vm.waitFor("shutdown.complete", 30_000);
    expect(complete.action).toBe("poweroff");
    expect(await booted.vm.waitForExit(30_000)).toBe(0);
    const shutdownEvent = await booted.vm.qmp.waitForEvent("SHUTDOWN", 0);
    expect(shutdownEvent.data?.reason).toBe("guest-shutdown");
    const order = ["shutdown.begin", "shutdown.complete"].map((e) => booted.vm.records.findIndex((r) => r.event === e));
    expect(order[0]).toBeLessThan(order[1] ?? -1);
  });
});
