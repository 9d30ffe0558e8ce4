import { describe, expect, it } from "vitest";
import { armWatchdog } from "../../../init/watchdog.ts";
import { FakeLibc } from "../../../sys/libc-fake.ts";
import { WDIOC } from "../../../sys/libc.ts";
import { createLog, memorySink, type LogRecord } from "../../../sys/log.ts";

describe("armWatchdog", () => {
  it("sets the timeout, feeds at once and then every third of the timeout", () => {
    const libc = new FakeLibc();
    const records: LogRecord[] = [];
    const timers: { ms: number; fn: () => void }[] = [];
    const armed = armWatchdog(
      { libc, log: createLog([memorySink(records)]), open: () => 7, every: (ms, fn) => timers.push({ ms, fn }) },
      30,
    );
    expect(armed).toBe(true);
    expect(libc.calls[0]).toEqual({ fn: "ioctlInt", args: [7, WDIOC.SETTIMEOUT, 30] });
    expect(libc.calls[1]).toEqual({ fn: "ioctl", args: [7, WDIOC.KEEPALIVE, 0] });
    expect(timers.map((t) => t.ms)).toEqual([10_000]);
    timers[0]?.fn();
    expect(libc.calls.filter((c) => c.fn === "ioctl")).toHaveLength(2);
    expect(records.find((r) => r.event === "watchdog.armed")).toMatchObject({ timeout_sec: 30, feed_every_sec: 10 });
  });

  it("logs and carries on when there is no watchdog device", () => {
    const records: LogRecord[] = [];
    const armed = armWatchdog(
      {
        libc: new FakeLibc(),
        log: createLog([memorySink(records)]),
        open: () => {
          throw new Error("ENOENT");
        },
        every: () => undefined,
      },
      30,
    );
    expect(armed).toBe(false);
    expect(records[0]?.event).toBe("watchdog.unavailable");
  });
});
