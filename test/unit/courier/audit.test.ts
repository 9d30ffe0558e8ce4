import { describe, expect, it } from "vitest";
import { appendRecord, auditRecorder, GENESIS, verifyAudit, type AuditChain } from "../../../courier/audit.ts";
import type { LogRecord } from "../../../sys/log.ts";

const record = (event: string, fields: Record<string, unknown> = {}): LogRecord => ({ ts: "2026-12-01T00:00:00.000Z", level: "info", event, ...fields });

function chainOf(events: LogRecord[]): string[] {
  const lines: string[] = [];
  let chain: AuditChain = { seq: 0, head: GENESIS };
  for (const r of events) {
    const next = appendRecord(chain, "boot-1", r);
    lines.push(next.line);
    chain = next.chain;
  }
  return lines;
}

const text = (lines: string[]): string => `${lines.join("\n")}\n`;

describe("the audit chain", () => {
  const lines = chainOf([record("room.started", { room: "web" }), record("room.started", { room: "work" }), record("shutdown.begin", { action: "poweroff" })]);

  it("verifies an intact log and names its head", () => {
    const verdict = verifyAudit(text(lines));
    expect(verdict).toMatchObject({ ok: true, records: 3 });
    expect(verifyAudit("")).toEqual({ ok: true, records: 0, head: GENESIS });
  });

  it("finds an edited record at the line after it", () => {
    const edited = [...lines];
    edited[0] = (edited[0] ?? "").replace('"web"', '"wab"');
    expect(verifyAudit(text(edited))).toMatchObject({ ok: false, line: 2, records: 1 });
  });

  it("finds a removed, a moved and an inserted record", () => {
    expect(verifyAudit(text([lines[0] ?? "", lines[2] ?? ""]))).toMatchObject({ ok: false, line: 2, reason: expect.stringMatching(/seq is 2/) });
    expect(verifyAudit(text([lines[1] ?? "", lines[0] ?? "", lines[2] ?? ""]))).toMatchObject({ ok: false, line: 1 });
    const forged = JSON.stringify({ event: "room.started", seq: 1, prev: "f".repeat(64) });
    expect(verifyAudit(text([lines[0] ?? "", forged, lines[1] ?? "", lines[2] ?? ""]))).toMatchObject({ ok: false, line: 2, reason: expect.stringMatching(/prev does not match/) });
  });

  it("refuses a line that is not a JSON object", () => {
    expect(verifyAudit(text([lines[0] ?? "", "garbage"]))).toMatchObject({ ok: false, line: 2, reason: "not a JSON line" });
  });
});

describe("auditRecorder", () => {
  it("keeps only the audited events, chained from the genesis", () => {
    const out: string[] = [];
    const recorder = auditRecorder("boot-1", (line) => out.push(line));
    for (const r of [record("room.started", { room: "web" }), record("input.grabbed"), record("console.prompt", { kind: "choice" }), record("room.output", { line: "x" })]) recorder(r);
    expect(out.map((l) => (JSON.parse(l) as { event: string }).event)).toEqual(["room.started", "console.prompt"]);
    expect(JSON.parse(out[0] ?? "{}")).toMatchObject({ seq: 0, prev: GENESIS, boot: "boot-1" });
    expect(verifyAudit(out.join(""))).toMatchObject({ ok: true, records: 2 });
  });
});
