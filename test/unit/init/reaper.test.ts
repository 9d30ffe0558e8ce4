import { describe, expect, it } from "vitest";
import { reapOrphans } from "../../../init/reaper.ts";
import { FakeLibc } from "../../../sys/libc-fake.ts";
import { CLD } from "../../../sys/libc.ts";
import { createLog, type LogRecord } from "../../../sys/log.ts";
import { memorySink } from "../memory-sink.ts";
import type { ProcStat } from "../../../sys/procfs.ts";

const proc = (pid: number, state: string, ppid: number, comm = "x"): ProcStat => ({ pid, state, ppid, comm });

describe("reapOrphans", () => {
  it("waits for each zombie orphan by pid and never for bay0's own children", () => {
    const libc = new FakeLibc();
    libc.zombies.set(10, { code: CLD.EXITED, status: 3 });
    libc.zombies.set(11, { code: CLD.KILLED, status: 9 });
    libc.zombies.set(12, { code: CLD.EXITED, status: 7 });
    const records: LogRecord[] = [];
    const reaped = reapOrphans({
      libc,
      log: createLog([memorySink(records)]),
      self: 1,
      isOwnChild: (pid) => pid === 12,
      processes: () => [
        proc(10, "Z", 1, "sleep"),
        proc(11, "Z", 1),
        proc(12, "Z", 1),
        proc(13, "S", 1),
        proc(14, "Z", 5),
      ],
    });
    expect(reaped).toBe(2);
    expect(libc.calls.filter((c) => c.fn === "reapPid").map((c) => c.args[0])).toEqual([10, 11]);
    expect(records.map(({ event, pid, status, signal }) => ({ event, pid, status, signal }))).toEqual([
      { event: "child.reaped", pid: 10, status: 3, signal: undefined },
      { event: "child.reaped", pid: 11, status: undefined, signal: 9 },
    ]);
    expect(libc.zombies.has(12)).toBe(true);
  });

  it("logs nothing when a zombie was already reaped by someone else", () => {
    const libc = new FakeLibc();
    const records: LogRecord[] = [];
    const reaped = reapOrphans({
      libc,
      log: createLog([memorySink(records)]),
      self: 1,
      isOwnChild: () => false,
      processes: () => [proc(20, "Z", 1)],
    });
    expect(reaped).toBe(0);
    expect(records).toEqual([]);
  });
});
