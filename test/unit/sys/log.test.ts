import { describe, expect, it } from "vitest";
import { asciiJson, createLog, KMSG_MAX_BYTES, kmsgLine, queuedSink, roomText } from "../../../sys/log.ts";

describe("createLog", () => {
  it("writes one JSON object per line with ts, level and event", () => {
    const lines: string[] = [];
    const log = createLog([(line) => lines.push(line)], () => new Date("2026-01-02T03:04:05.000Z"));
    log.info("bay0.ready", { pid: 1, big: 5n });
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain("\n");
    expect(JSON.parse(lines[0] ?? "")).toEqual({
      pid: 1,
      big: "5",
      ts: "2026-01-02T03:04:05.000Z",
      level: "info",
      event: "bay0.ready",
    });
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

describe("asciiJson", () => {
  it("escapes everything outside printable ASCII, and the result parses back to the same record", () => {
    const hostile = "a\u009b31m\u009d0;pwned\u0007\u007f\u202e\u2066é\ud83d\ude00\u0000\u001b[2J";
    const line = asciiJson({ line: hostile });
    expect(line).toMatch(/^[\x20-\x7e]*$/);
    expect(line).toContain("\\u009b");
    expect(line).toContain("\\u202e");
    expect(JSON.parse(line)).toEqual({ line: hostile });
  });

  it("is what createLog writes", () => {
    const lines: string[] = [];
    createLog([(line) => lines.push(line)]).info("room.output", { line: "\u009b" });
    expect(lines[0]).toContain('"line":"\\u009b"');
  });
});

describe("kmsgLine", () => {
  it("passes a short record whole, with its priority", () => {
    expect(kmsgLine('{"event":"x"}', "warn")).toBe('<5>bay0: {"event":"x"}\n');
  });

  it("cuts a record the kernel would refuse, and says so, instead of losing it", () => {
    const long = JSON.stringify({ event: "room.output", line: "x".repeat(4000) });
    const written = kmsgLine(long, "info");
    expect(written.length).toBeLessThanOrEqual(KMSG_MAX_BYTES);
    expect(written.startsWith('<6>bay0: {"event":"room.output"')).toBe(true);
    expect(written).toMatch(/\[cut: \d+ bytes in all, the console has the whole record\]\n$/);
  });
});

describe("queuedSink", () => {
  /** A device that takes `room` bytes, then says "again" until drained. */
  function device(room: number) {
    const taken: string[] = [];
    let free = room;
    const later: (() => void)[] = [];
    const write = (bytes: Uint8Array): number | "again" => {
      if (free === 0) return "again";
      const n = Math.min(free, bytes.length);
      free -= n;
      taken.push(Buffer.from(bytes.subarray(0, n)).toString());
      return n;
    };
    return {
      taken,
      later,
      write,
      drain(bytes: number) {
        free += bytes;
        later.splice(0).forEach((fn) => fn());
      },
    };
  }
  const record = { ts: "t", level: "info" as const, event: "e" };

  it("never waits: a full device queues whole records up to the bound, then drops and counts them", () => {
    const d = device(10);
    const sink = queuedSink({
      name: "console",
      write: d.write,
      capacityBytes: 100,
      later: (fn) => d.later.push(fn),
      now: () => new Date(0),
    });
    for (let i = 0; i < 50; i++) sink(`record-${String(i).padStart(2, "0")}`, record);
    expect(d.taken.join("")).toBe("record-00\n");
    d.drain(10_000);
    const out = d.taken
      .join("")
      .split("\n")
      .filter((l) => l !== "");
    // 100 bytes of queue hold 10 of the 10-byte records; the rest were dropped, and counted once drained.
    expect(out.slice(0, 11)).toEqual(Array.from({ length: 11 }, (_, i) => `record-${String(i).padStart(2, "0")}`));
    expect(JSON.parse(out.at(-1) ?? "")).toMatchObject({
      event: "log.dropped",
      sink: "console",
      records: 39,
      level: "warn",
    });
    sink("after", record);
    expect(d.taken.at(-1)).toBe("after\n");
  });

  it("finishes a partly written record before the next, so lines never interleave", () => {
    const d = device(3);
    const sink = queuedSink({ name: "console", write: d.write, capacityBytes: 1000, later: (fn) => d.later.push(fn) });
    sink("abcdef", record);
    sink("ghi", record);
    d.drain(2);
    d.drain(100);
    expect(d.taken.join("")).toBe("abcdef\nghi\n");
  });

  it("counts a record the device refuses for good, and goes on", () => {
    let calls = 0;
    const out: string[] = [];
    const sink = queuedSink({
      name: "console",
      write: (bytes) => {
        calls += 1;
        if (calls === 1) throw new Error("EIO");
        out.push(Buffer.from(bytes).toString());
        return bytes.length;
      },
      capacityBytes: 1000,
      later: () => undefined,
      now: () => new Date(0),
    });
    sink("lost", record);
    expect(out.map((l) => JSON.parse(l))).toEqual([expect.objectContaining({ event: "log.dropped", records: 1 })]);
  });
});

describe("roomText", () => {
  it("logs short printable text a room chose as it is, and anything else as its start, its length and a digest", () => {
    expect(roomText("/tmp/report.txt")).toBe("/tmp/report.txt");
    const long = `/tmp/${"a".repeat(5000)}`;
    expect(roomText(long)).toMatch(/^\/tmp\/a{43}\.\.\. \(5005 characters, sha256 [0-9a-f]{16}\)$/);
    expect(roomText(`/tmp/\u202eevil\u009b2J`)).toMatch(
      /^\/tmp\/\?evil\?2J\.\.\. \(13 characters, sha256 [0-9a-f]{16}\)$/,
    );
    expect(roomText(`${long}b`)).not.toBe(roomText(`${long}c`));
  });
});
