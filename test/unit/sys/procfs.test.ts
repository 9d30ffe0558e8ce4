import { describe, expect, it } from "vitest";
import { isUserProcess, parseProcStat } from "../../../sys/procfs.ts";

describe("parseProcStat", () => {
  it("reads pid, comm, state and ppid", () => {
    expect(parseProcStat("123 (sleep) Z 1 123 123 0 -1 4194560 95 0 0 0")).toEqual({ pid: 123, comm: "sleep", state: "Z", ppid: 1 });
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
