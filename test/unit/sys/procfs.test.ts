import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isUserProcess, mountPoints, parseProcStat, memoryInUseKb } from "../../../sys/procfs.ts";

describe("parseProcStat", () => {
  it("reads pid, comm, state and ppid", () => {
    expect(parseProcStat("123 (sleep) Z 1 123 123 0 -1 4194560 95 0 0 0")).toEqual({
      pid: 123,
      comm: "sleep",
      state: "Z",
      ppid: 1,
    });
  });
  it("copes with spaces and parentheses in the command name", () => {
    expect(parseProcStat("7 (a) b (c) S 3 7 7")).toEqual({ pid: 7, comm: "a) b (c", state: "S", ppid: 3 });
  });
  it("rejects garbage", () => {
    expect(parseProcStat("nonsense")).toBeNull();
    expect(parseProcStat("x (y) S z")).toBeNull();
  });
});

describe("isUserProcess", () => {
  it("excludes bay0 itself and kernel threads", () => {
    expect(isUserProcess({ pid: 1, comm: "bay0", state: "S", ppid: 0 }, 1)).toBe(false);
    expect(isUserProcess({ pid: 2, comm: "kthreadd", state: "S", ppid: 0 }, 1)).toBe(false);
    expect(isUserProcess({ pid: 9, comm: "kworker/0:1", state: "I", ppid: 2 }, 1)).toBe(false);
    expect(isUserProcess({ pid: 90, comm: "sh", state: "S", ppid: 1 }, 1)).toBe(true);
  });
});

describe("mountPoints", () => {
  it("lists mount points in mount order from mountinfo, and nothing when it cannot be read", () => {
    const file = join(mkdtempSync(join(tmpdir(), "mi-")), "mountinfo");
    writeFileSync(
      file,
      "22 1 0:21 / / ro,relatime - tmpfs root rw\n23 22 0:5 / /proc rw - proc proc rw\n24 22 0:22 / /run rw,nosuid - tmpfs run rw\n",
    );
    expect(mountPoints(file)).toEqual(["/", "/proc", "/run"]);
    expect(mountPoints(join(file, "missing"))).toEqual([]);
  });
});

describe("memoryInUseKb", () => {
  it("is MemTotal minus MemAvailable, and null when either is missing", () => {
    expect(
      memoryInUseKb("MemTotal:        1000000 kB\nMemFree:          900000 kB\nMemAvailable:     950000 kB\n"),
    ).toBe(50000);
    expect(memoryInUseKb("MemTotal:        1000000 kB\n")).toBeNull();
  });
});
