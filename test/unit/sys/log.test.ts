import { describe, expect, it } from "vitest";
import { createLog } from "../../../sys/log.ts";

describe("createLog", () => {
  it("writes one JSON object per line with ts, level and event", () => {
    const lines: string[] = [];
    const log = createLog([(line) => lines.push(line)], () => new Date("2026-01-02T03:04:05.000Z"));
    log.info("bay0.ready", { pid: 1, big: 5n });
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain("\n");
    expect(JSON.parse(lines[0] ?? "")).toEqual({ pid: 1, big: "5", ts: "2026-01-02T03:04:05.000Z", level: "info", event: "bay0.ready" });
  });

  it("does not let fields override the envelope, and survives a throwing sink", () => {
    const lines: string[] = [];
    const log = createLog([
      () => {
        throw new Error("console gone");
      },
      (line) => lines.push(line),
    ]);
    log.error("bay0.error", { event: "spoofed", level: "debug" });
    expect(JSON.parse(lines[0] ?? "")).toMatchObject({ event: "bay0.error", level: "error" });
  });
});
