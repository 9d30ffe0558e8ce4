import { mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startAudit } from "../../../init/audit.ts";
import { verifyAudit } from "../../../courier/audit.ts";
import { createLog, memorySink, relaySink, type LogRecord } from "../../../sys/log.ts";

describe("the audit log's copy in the vault", () => {
  const scratch = mkdtempSync(join(tmpdir(), "anchor-audit-"));
  afterEach(() => rmSync(scratch, { recursive: true, force: true }));

  function setup() {
    const records: LogRecord[] = [];
    const feed = relaySink();
    const log = createLog([memorySink(records), feed.sink]);
    const audit = startAudit(log, feed, () => async () => null, join(scratch, "run"));
    return { records, log, audit, vault: join(scratch, "persist", "audit") };
  }

  it("copies the boot's log when the vault opens, appends to it while open, and ends it with audit.closed", () => {
    const { records, log, audit, vault } = setup();
    log.info("room.started", { room: "web" });
    audit.intoVault(vault);
    log.info("room.started", { room: "work" });
    audit.outOfVault();
    log.info("room.started", { room: "after" });
    const [file = ""] = readdirSync(vault);
    const copy = readFileSync(join(vault, file), "utf8");
    const events = copy.trim().split("\n").map((l) => (JSON.parse(l) as { event: string; room?: string }).room ?? (JSON.parse(l) as { event: string }).event);
    expect(events).toEqual(["web", "audit.flushed", "work", "audit.closed"]);
    expect(verifyAudit(copy)).toMatchObject({ ok: true, records: 4, closed: true });
    // The RAM log goes on after the vault locks; the copy does not.
    expect(readFileSync(join(scratch, "run", "audit.jsonl"), "utf8").trim().split("\n")).toHaveLength(5);
    expect(records.find((r) => r.event === "audit.flushed")).toMatchObject({ earlier: 0, unfinished: [] });
  });

  it("verifies the earlier boots' files at unlock: a broken chain is audit.broken, one without audit.closed is unfinished", () => {
    const { records, audit, vault } = setup();
    const earlier = setup();
    earlier.log.info("room.started", { room: "web" });
    earlier.audit.intoVault(vault);
    earlier.log.info("room.started", { room: "cut short" });
    // That boot's file, as an earlier boot left it (this host has one boot id, so the name is changed by hand).
    const cut = "2026-01-01T000001Z-earlier.jsonl";
    renameSync(join(vault, readdirSync(vault)[0] ?? ""), join(vault, cut));
    const edited = "2026-01-01T000000Z-edited.jsonl";
    writeFileSync(join(vault, edited), readFileSync(join(vault, cut), "utf8").replace(`"room":"web"`, `"room":"WEB"`));
    audit.intoVault(vault);
    expect(records.filter((r) => r.event === "audit.broken")).toEqual([expect.objectContaining({ file: edited, line: 2 })]);
    expect(records.find((r) => r.event === "audit.flushed")).toMatchObject({ earlier: 2, unfinished: [cut] });
  });
});
