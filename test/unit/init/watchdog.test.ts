import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { armWatchdog } from "../../../init/watchdog.ts";
import { openCharDevice } from "../../../sys/devices.ts";
import { FakeLibc } from "../../../sys/libc-fake.ts";
import { WDIOC } from "../../../sys/libc.ts";
import { createLog, type LogRecord } from "../../../sys/log.ts";
import { memorySink } from "../memory-sink.ts";

describe("armWatchdog", () => {
  it("sets the timeout, feeds at once and then every third of the timeout; stop() ends the feeding", () => {
    const libc = new FakeLibc();
    const records: LogRecord[] = [];
    const timers: { ms: number; fn: () => void; stopped: boolean }[] = [];
    const watchdog = armWatchdog(
      {
        libc,
        log: createLog([memorySink(records)]),
        open: () => 7,
        every: (ms, fn) => {
          const timer = { ms, fn, stopped: false };
          timers.push(timer);
          return () => {
            timer.stopped = true;
          };
        },
      },
      30,
    );
    expect(watchdog).not.toBeNull();
    expect(libc.calls[0]).toEqual({ fn: "ioctlInt", args: [7, WDIOC.SETTIMEOUT, 30] });
    expect(libc.calls[1]).toEqual({ fn: "ioctl", args: [7, WDIOC.KEEPALIVE, 0] });
    expect(timers.map((t) => t.ms)).toEqual([10_000]);
    timers[0]?.fn();
    expect(libc.calls.filter((c) => c.fn === "ioctl")).toHaveLength(2);
    expect(records.find((r) => r.event === "watchdog.armed")).toMatchObject({ timeout_sec: 30, feed_every_sec: 10 });
    watchdog?.stop();
    expect(timers[0]?.stopped).toBe(true);
    expect(records.at(-1)).toMatchObject({ event: "watchdog.stopped", reset_within_sec: 30 });
  });

  const armWith = (path: string) => {
    const records: LogRecord[] = [];
    const armed = armWatchdog(
      {
        libc: new FakeLibc(),
        log: createLog([memorySink(records)]),
        open: openCharDevice,
        every: () => () => undefined,
      },
      30,
      path,
    );
    return { armed, records };
  };

  it("with the real opener: reports watchdog.absent for a missing device and creates no file in its place", () => {
    const path = join(mkdtempSync(join(tmpdir(), "wd-")), "watchdog");
    const { armed, records } = armWith(path);
    expect(armed).toBeNull();
    expect(records.map((r) => r.event)).toEqual(["watchdog.absent"]);
    expect(existsSync(path)).toBe(false);
  });

  it("with the real opener: refuses a regular file where the device should be", () => {
    const path = join(mkdtempSync(join(tmpdir(), "wd-")), "watchdog");
    writeFileSync(path, "");
    const { armed, records } = armWith(path);
    expect(armed).toBeNull();
    expect(records[0]).toMatchObject({
      event: "watchdog.absent",
      reason: expect.stringMatching(/not a character device/),
    });
  });

  it("with the real opener: opens a real character device", () => {
    const fd = openCharDevice("/dev/null");
    expect(fd).toBeGreaterThan(2);
  });
});
