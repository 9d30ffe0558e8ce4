import { describe, expect, it } from "vitest";
import { HARDENING_SYSCTLS, hardenSysctls } from "../../../init/sysctl.ts";
import { createLog, memorySink, type LogRecord } from "../../../sys/log.ts";

const errno = (code: string): Error => Object.assign(new Error(`${code}: x`), { code });

describe("hardenSysctls", () => {
  it("sets the fs.protected_* family and the kernel hardening sysctls", () => {
    const written = new Map<string, string>();
    const records: LogRecord[] = [];
    hardenSysctls((path, value) => written.set(path, value), createLog([memorySink(records)]));
    for (const key of [
      "fs/protected_hardlinks",
      "fs/protected_symlinks",
      "fs/protected_fifos",
      "fs/protected_regular",
    ]) {
      expect(written.get(`/proc/sys/${key}`)).toBe("1");
    }
    expect(written.get("/proc/sys/kernel/kptr_restrict")).toBe("2");
    expect(written.size).toBe(Object.keys(HARDENING_SYSCTLS).length);
    expect(records[0]).toMatchObject({ event: "sysctl.hardened", level: "info", absent: [], failed: [] });
  });

  it("tells a sysctl this kernel lacks from one that failed", () => {
    const records: LogRecord[] = [];
    hardenSysctls(
      (path) => {
        if (path.endsWith("kexec_load_disabled")) throw errno("ENOENT");
        if (path.endsWith("mmap_min_addr")) throw errno("EPERM");
      },
      createLog([memorySink(records)]),
    );
    expect(records[0]).toMatchObject({
      level: "error",
      absent: ["kernel.kexec_load_disabled"],
      failed: [{ sysctl: "vm.mmap_min_addr", error: "EPERM: x" }],
    });
  });
});
