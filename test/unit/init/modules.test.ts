import { describe, expect, it } from "vitest";
import { loadModulesThenLock, MODULE_ORDER_FILE, type ModuleDeps } from "../../../init/modules.ts";
import { FakeLibc } from "../../../sys/libc-fake.ts";
import { createLog, memorySink, type LogRecord } from "../../../sys/log.ts";

function deps(files: Record<string, string>, libc = new FakeLibc()) {
  const written: [string, string][] = [];
  const records: LogRecord[] = [];
  const d: ModuleDeps = {
    libc,
    log: createLog([memorySink(records)]),
    readText: (path) => files[path] ?? null,
    openRead: (path) => {
      if (!(path in files)) throw new Error(`ENOENT ${path}`);
      return 3;
    },
    close: () => undefined,
    writeText: (path, text) => written.push([path, text]),
  };
  return { d, libc, written, records };
}

describe("loadModulesThenLock", () => {
  it("loads the listed modules in order, then disables module loading", () => {
    const { d, libc, written } = deps({
      "/proc/modules": "",
      [MODULE_ORDER_FILE]: "/m/a.ko\n/m/b.ko\n",
      "/m/a.ko": "",
      "/m/b.ko": "",
    });
    expect(loadModulesThenLock(d)).toEqual([]);
    expect(libc.calls.filter((c) => c.fn === "finitModule")).toHaveLength(2);
    expect(written).toEqual([["/proc/sys/kernel/modules_disabled", "1"]]);
  });

  it("reports a module that fails and still locks", () => {
    const { d, written, records } = deps({ "/proc/modules": "", [MODULE_ORDER_FILE]: "/m/missing.ko\n" });
    expect(loadModulesThenLock(d)).toEqual(["/m/missing.ko"]);
    expect(records[0]?.event).toBe("modules.failed");
    expect(written).toHaveLength(1);
  });

  it("does nothing on a kernel without module support", () => {
    const { d, libc, written } = deps({});
    expect(loadModulesThenLock(d)).toEqual([]);
    expect(libc.calls).toEqual([]);
    expect(written).toEqual([]);
  });
});
