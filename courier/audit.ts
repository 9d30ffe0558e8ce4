/**
 * The audit log: append-only JSON lines, each carrying the SHA-256 of the
 * line before it (`prev`; the first line's is 64 zeros) and its place in
 * the boot (`seq`), so an edit, insertion, deletion or reordering breaks
 * the chain at that line. Each line's hash is also extended into TPM PCR 15
 * (AUDIT_PCR), which only a reboot resets: the PCR then holds the chain's
 * head out of the file's reach, so a log cut short at its end no longer
 * replays to it. Pure: bay0 appends through `auditRecorder`, and the host
 * verifier (`npm run audit -- verify FILE [--pcr HEX]`) runs the same code.
 */
import { createHash } from "node:crypto";
import type { LogRecord } from "../sys/log.ts";

export const GENESIS = "0".repeat(64);

/** The events that go into the audit log: who ran, what crossed, what the human decided, how the boot ended. */
const AUDITED = /^(audit\.|room\.(started|failed|exited|killed|reset|refused|oom)|image\.(verity_failed|ignored)|policy\.rejected|console\.(action|prompt)|watchdog\.(armed|absent|stopped)|shutdown\.(begin|complete)|power\.button|input\.ctrl_alt_del|umbilical\.|courier\.|vault\.)/;

const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex");

/** Unused by the firmware and systemd's stub, and not resettable by software (locality 0). */
export const AUDIT_PCR = 15;

/** The SHA-256 PCR value after extending a fresh (zero) PCR with every line's hash, in order. */
export function replayPcr(lines: string[]): string {
  let pcr = Buffer.alloc(32);
  for (const line of lines) pcr = createHash("sha256").update(pcr).update(Buffer.from(sha256(line), "hex")).digest();
  return pcr.toString("hex");
}

export type AuditChain = { seq: number; head: string };

/** The next line of the chain for `record` (an object without seq/prev), and the chain after it. */
export function appendRecord(chain: AuditChain, boot: string, record: Record<string, unknown>): { line: string; chain: AuditChain } {
  const line = JSON.stringify({ ...record, boot, seq: chain.seq, prev: chain.head });
  return { line, chain: { seq: chain.seq + 1, head: sha256(line) } };
}

/**
 * The last record of a boot's copy in the vault when the vault was locked in
 * order: a copy that lacks it ended by a power cut or a crash, or lost its tail.
 */
export const CLOSING_EVENT = "audit.closed";

export type Verdict = { ok: true; records: number; head: string; pcr: string; closed: boolean } | { ok: false; line: number; reason: string; records: number };

/**
 * Replays a log: the first broken line (1-based) and why, or the record
 * count, the chain's head and the PCR value it replays to. Given the PCR as
 * the TPM holds it (`anchor`), a log that ends early or was rewritten whole
 * is broken too.
 */
export function verifyAudit(text: string, anchor: string | null = null): Verdict {
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  let head = GENESIS;
  let last: unknown = null;
  for (const [i, line] of lines.entries()) {
    const broken = (reason: string): Verdict => ({ ok: false, line: i + 1, reason, records: i });
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      return broken("not a JSON line");
    }
    if (typeof record !== "object" || record === null) return broken("not a JSON object");
    const { seq, prev, event } = record as { seq?: unknown; prev?: unknown; event?: unknown };
    if (seq !== i) return broken(`seq is ${String(seq)}, expected ${i}: a record was removed, added or moved`);
    if (prev !== head) return broken("prev does not match the line before: that line or this one was changed");
    head = sha256(line);
    last = event;
  }
  const pcr = replayPcr(lines);
  if (anchor !== null && anchor.toLowerCase() !== pcr) {
    return { ok: false, line: lines.length + 1, reason: `the log does not replay to PCR ${AUDIT_PCR} as the TPM holds it: records were cut from its end, or it was rewritten`, records: lines.length };
  }
  return { ok: true, records: lines.length, head, pcr, closed: last === CLOSING_EVENT };
}

/**
 * Takes every log record, chains the audited ones and hands each line to
 * `append` (the file under /run/anchor/) and its hash to `anchor` (the TPM).
 */
export function auditRecorder(boot: string, append: (line: string) => void, anchor: (hash: string) => void): (record: LogRecord) => void {
  let chain: AuditChain = { seq: 0, head: GENESIS };
  return (record) => {
    if (!AUDITED.test(record.event)) return;
    const next = appendRecord(chain, boot, record);
    append(`${next.line}\n`);
    anchor(next.chain.head);
    chain = next.chain;
  };
}
