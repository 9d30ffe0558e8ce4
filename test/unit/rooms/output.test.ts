import { describe, expect, it } from "vitest";
import { createOutputLimiter, loggedBytes } from "../../../rooms/output.ts";
import { createLog, type LogRecord } from "../../../sys/log.ts";
import { memorySink } from "../memory-sink.ts";

describe("createOutputLimiter", () => {
  it("passes a burst of 200 lines, drops the flood beyond it, and reports the count", () => {
    const records: LogRecord[] = [];
    let now = 0;
    const limiter = createOutputLimiter(createLog([memorySink(records)]), "web", () => now);
    for (let i = 0; i < 1000; i++) limiter.line("stdout", `line ${i}`);
    expect(records.filter((r) => r.event === "room.output")).toHaveLength(200);
    now += 1000;
    limiter.line("stdout", "after a second");
    expect(records.find((r) => r.event === "room.output_dropped")).toMatchObject({ room: "web", lines: 800 });
    expect(records.at(-1)).toMatchObject({ event: "room.output", line: "after a second", stream: "stdout" });
  });

  it("flushes the dropped count when the room ends", () => {
    const records: LogRecord[] = [];
    const limiter = createOutputLimiter(createLog([memorySink(records)]), "web", () => 0);
    for (let i = 0; i < 201; i++) limiter.line("stderr", "x");
    limiter.flush();
    expect(records.at(-1)).toMatchObject({ event: "room.output_dropped", lines: 1 });
  });
});

describe("createOutputLimiter by bytes", () => {
  it("counts what a line costs once escaped: control characters cost six bytes each", () => {
    expect(loggedBytes("abc")).toBe(3);
    expect(loggedBytes("\u001b[2J\u009b")).toBe(6 + 3 + 6);
  });

  it("caps a flood of long control-character lines at the byte budget, well under the line budget", () => {
    const records: LogRecord[] = [];
    let now = 0;
    const limiter = createOutputLimiter(createLog([memorySink(records)]), "flood", () => now);
    const line = "\u001b\u009b\u0007".repeat(1365);
    for (let i = 0; i < 100; i++) limiter.line("stdout", line);
    const passed = records.filter((r) => r.event === "room.output");
    // 32 KiB of burst holds one 24 KiB line: the rest of this second's flood is dropped.
    expect(passed).toHaveLength(1);
    now += 10_000;
    limiter.line("stdout", "calm again");
    expect(records.find((r) => r.event === "room.output_dropped")).toMatchObject({ lines: 99 });
    expect(records.at(-1)).toMatchObject({ line: "calm again" });
  });
});
