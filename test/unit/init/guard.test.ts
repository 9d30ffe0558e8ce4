import { EventEmitter } from "node:events";
import { describe, expect, it } from "vitest";
import { guarded, installCrashGuards } from "../../../init/guard.ts";
import { FakeLibc } from "../../../sys/libc-fake.ts";
import { RB } from "../../../sys/libc.ts";
import { createLog, type LogRecord } from "../../../sys/log.ts";
import { memorySink } from "../memory-sink.ts";

describe("guarded", () => {
  it("turns thrown errors and rejected promises into bay0.error records", async () => {
    const records: LogRecord[] = [];
    const log = createLog([memorySink(records)]);
    guarded(log, "sync", () => {
      throw new Error("sync boom");
    })();
    guarded(log, "async", async () => {
      throw new Error("async boom");
    })();
    await new Promise((r) => setTimeout(r, 0));
    expect(records.map((r) => [r.event, r.where, r.error])).toEqual([
      ["bay0.error", "sync", "sync boom"],
      ["bay0.error", "async", "async boom"],
    ]);
  });
});

describe("installCrashGuards", () => {
  it("logs uncaught errors and reboots (after sync) rather than letting PID 1 exit", () => {
    const emitter = new EventEmitter();
    const libc = new FakeLibc();
    const records: LogRecord[] = [];
    installCrashGuards(createLog([memorySink(records)]), libc, emitter as unknown as NodeJS.Process);
    emitter.emit("uncaughtException", new Error("oops"));
    emitter.emit("unhandledRejection", "nope");
    expect(records.map((r) => r.where)).toEqual(["uncaught", "unhandled-rejection"]);
    expect(libc.calls).toEqual([]);
    emitter.emit("exit", 1);
    expect(libc.calls).toEqual([
      { fn: "sync", args: [] },
      { fn: "reboot", args: [RB.AUTOBOOT] },
    ]);
  });
});
