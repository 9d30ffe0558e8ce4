import { describe, expect, it } from "vitest";
import { createOutputLimiter } from "../../../rooms/output.ts";
import { createLog, memorySink, type LogRecord } from "../../../sys/log.ts";

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
