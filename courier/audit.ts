/**
 * The audit log: append-only JSON lines, each carrying the SHA-256 of the
 * line before it (`prev`; the first line's is 64 zeros) and its place in
 * the boot (`seq`), so an edit, insertion, deletion or reordering breaks
 * the chain at that line. Pure: bay0 appends through `auditSink`, and the
 * host verifier (`npm run audit -- verify FILE`) runs the same code.
 */
import { createHash } from "node:crypto";
import type { LogRecord } from "../sys/log.ts";

export const GENESIS = "0".repeat(64);

/** The events that go into the audit log: who ran, what crossed, what the human decided, how the boot ended. */
const AUDITED = /^(room\.(started|failed|exited|killed|reset|refused|oom)|image\.(verity_failed|ignored)|policy\.rejected|console\.(action|prompt)|watchdog\.(armed|absent|stopped)|shutdown\.(begin|complete)|power\.button|input\.ctrl_alt_del|umbilical\.|courier\.|vault\.)/;

const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex");

export type AuditChain = { seq: number; head: string };

/** The next line of the chain for `record` (an object without seq/prev), and the chain after it. */
export function appendRecord(chain: AuditChain, boot: string, record: Record<string, unknown>): { line: string; chain: AuditChain } {
  const line = JSON.stringify({ ...record, boot, seq: chain.seq, prev: chain.head });
  return { line, chain: { seq: chain.seq + 1, head: sha256(line) } };
}

export type Verdict = { ok: true; records: number; head: string } | { ok: false; line: number; reason: string; records: number };

/** Replays a log: the first broken line (1-based) and why, or the record count and the chain's head. */
export function verifyAudit(text: string): Verdict {
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  let head = GENESIS;
  for (const [i, line] of lines.entries()) {
    const broken = (reason: string): Verdict => ({ ok: false, line: i + 1, reason, records: i });
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      return broken("not a JSON line");
    }
    if (typeof record !== "object" || record === null) return broken("not a JSON object");
    const { seq, prev } = record as { seq?: unknown; prev?: unknown };
    if (seq !== i) return broken(`seq is ${String(seq)}, expected ${i}: a record was removed, added or moved`);
    if (prev !== head) return broken("prev does not match the line before: that line or this one was changed");
    head = sha256(line);
  }
  return { ok: true, records: lines.length, head };
}

/** Takes every log record, chains the audited ones and hands each line to `append` (the file under /run/anchor/). */
export function auditRecorder(boot: string, append: (line: string) => void): (record: LogRecord) => void {
  let chain: AuditChain = { seq: 0, head: GENESIS };
  return (record) => {
    if (!AUDITED.test(record.event)) return;
    const next = appendRecord(chain, boot, record);
    append(`${next.line}\n`);
    chain = next.chain;
  };
}
