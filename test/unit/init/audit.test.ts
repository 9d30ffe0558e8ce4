import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startAudit } from "../../../init/audit.ts";
import { summarizeText, verifyAudit } from "../../../audit/verify.ts";
import { createLog, relaySink, type LogRecord } from "../../../sys/log.ts";
import { memorySink } from "../memory-sink.ts";

describe("the audit log's copy in the vault", () => {
  const scratch = mkdtempSync(join(tmpdir(), "anchor-audit-"));
  afterEach(() => rmSync(scratch, { recursive: true, force: true }));

  /** One boot's audit log; `run` is its RAM folder (each boot has its own). */
  function setup(run = "run", ramLogMaxBytes?: number) {
    const records: LogRecord[] = [];
    const feed = relaySink();
    const log = createLog([memorySink(records), feed.sink]);
    const audit = startAudit(log, feed, () => async () => null, join(scratch, run), ramLogMaxBytes);
    return { records, log, audit, vault: join(scratch, "persist", "audit") };
  }

  it("copies the boot's log when the vault opens, appends to it while open, and ends it with audit.closed", () => {
    const { records, log, audit, vault } = setup();
    log.info("room.started", { room: "web" });
    audit.intoVault(vault, null);
    log.info("room.started", { room: "work" });
    audit.outOfVault();
    log.info("room.started", { room: "after" });
    const [file = ""] = readdirSync(vault);
    const copy = readFileSync(join(vault, file), "utf8");
    const events = copy
      .trim()
      .split("\n")
      .map(
        (l) => (JSON.parse(l) as { event: string; room?: string }).room ?? (JSON.parse(l) as { event: string }).event,
      );
    expect(events).toEqual(["web", "audit.flushed", "work", "audit.closed"]);
    expect(verifyAudit(copy)).toMatchObject({ ok: true, records: 4, closed: true });
    // The RAM log goes on after the vault locks; the copy does not.
    expect(
      readFileSync(join(scratch, "run", "audit.jsonl"), "utf8")
        .trim()
        .split("\n"),
    ).toHaveLength(5);
    expect(records.find((r) => r.event === "audit.flushed")).toMatchObject({ earlier: 0, unfinished: [] });
  });

  it("logs what the vault helper found of the earlier boots' files: each break as audit.broken, the rest in audit.flushed", () => {
    const { records, audit, vault } = setup();
    const head = "ab".repeat(32);
    audit.intoVault(vault, {
      earlier: 2,
      unfinished: ["2026-01-01T000001Z-b.jsonl"],
      broken: [
        {
          file: "2026-01-01T000000Z-a.jsonl",
          reason: "its end is not what 2026-01-01T000001Z-b.jsonl's boot found there",
        },
      ],
      after: "2026-01-01T000001Z-b.jsonl",
      after_head: head,
      count: 3,
    });
    expect(records.filter((r) => r.event === "audit.broken")).toEqual([
      expect.objectContaining({ file: "2026-01-01T000000Z-a.jsonl", level: "error" }),
    ]);
    expect(records.find((r) => r.event === "audit.flushed")).toMatchObject({
      earlier: 2,
      unfinished: ["2026-01-01T000001Z-b.jsonl"],
      after: "2026-01-01T000001Z-b.jsonl",
      after_head: head,
      count: 3,
    });
    // The copy names the file before it in its own chain, where the next unlock reads it.
    const [file = ""] = readdirSync(vault);
    expect(summarizeText(readFileSync(join(vault, file), "utf8")).link).toEqual({
      file: "2026-01-01T000001Z-b.jsonl",
      head,
    });
  });

  it("stops the RAM log at its bound, says so once in audit.broken, and keeps the vault's copy whole", async () => {
    const { records, log, audit, vault } = setup("run", 2000);
    audit.intoVault(vault, null);
    for (let i = 0; i < 40; i++) log.warn("courier.denied", { room: "web", file: `f${i}`, by: "policy", reason: "no" });
    await Promise.resolve();
    const ram = readFileSync(join(scratch, "run", "audit.jsonl"), "utf8");
    expect(ram.length).toBeLessThanOrEqual(2000);
    expect(records.filter((r) => r.event === "audit.broken")).toEqual([
      expect.objectContaining({
        file: "audit.jsonl",
        reason: expect.stringMatching(/holds its 2000 bytes; later records are only in the vault's copy/),
      }),
    ]);
    const [file = ""] = readdirSync(vault);
    const copy = readFileSync(join(vault, file), "utf8");
    // Every record, the broken notice among them, chained without a gap.
    expect(verifyAudit(copy)).toMatchObject({ ok: true, records: 42 });
  });

  it("writes only printable ASCII, whatever a room put in a field", () => {
    const { log } = setup();
    log.warn("courier.denied", { room: "web", file: "\u202etxt.exe\u009b2J\u0007", by: "policy", reason: "no" });
    const ram = readFileSync(join(scratch, "run", "audit.jsonl"), "utf8");
    expect(ram).toMatch(/^[\x20-\x7e\n]+$/);
    expect(verifyAudit(ram)).toMatchObject({ ok: true, records: 1 });
    expect(JSON.parse(ram.trim())).toMatchObject({ file: "\u202etxt.exe\u009b2J\u0007" });
  });
});
