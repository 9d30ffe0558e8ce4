import { describe, expect, it } from "vitest";
import { runOnce } from "../../../init/run.ts";
import { createLog, type LogRecord } from "../../../sys/log.ts";
import { memorySink } from "../memory-sink.ts";
import type { Spawner } from "../../../sys/spawn.ts";

describe("runOnce", () => {
  it("logs each output line and the real exit status", async () => {
    const records: LogRecord[] = [];
    const spawner: Spawner = {
      isOwn: () => true,
      spawn: (argv, onLine) => {
        expect(argv).toEqual(["/test/probe.sh"]);
        onLine("stdout", "hello");
        onLine("stderr", "warn");
        return { pid: 9, exited: Promise.resolve({ status: 42, signal: null }) };
      },
    };
    await runOnce(spawner, createLog([memorySink(records)]), "/test/probe.sh");
    expect(records.map((r) => [r.event, r.line ?? r.status])).toEqual([
      ["run.started", undefined],
      ["run.output", "hello"],
      ["run.output", "warn"],
      ["run.exited", 42],
    ]);
  });

  it("logs a program that cannot start as exited, without throwing", async () => {
    const records: LogRecord[] = [];
    const spawner: Spawner = {
      isOwn: () => false,
      spawn: () => {
        throw new Error("ENOENT");
      },
    };
    await runOnce(spawner, createLog([memorySink(records)]), "/missing");
    expect(records.at(-1)).toMatchObject({ event: "run.exited", status: null, error: "Error: ENOENT" });
  });
});
