/**
 * The audit log: append-only JSON lines, each carrying the SHA-256 of the
 * line before it (`prev`; the first line's is 64 zeros) and its place in
 * the boot (`seq`), so an edit, insertion, deletion or reordering breaks
 * the chain at that line. Each line's hash is also extended into TPM PCR 15
 * (AUDIT_PCR), which only a reboot resets: the PCR then holds the chain's
 * head out of the file's reach, so a log cut short at its end no longer
 * replays to it. Pure: bay0 appends through `auditRecorder`; checking a log
 * is audit/verify.ts, which the vault helper and the host verifier
 * run, never PID 1.
 */
import { createHash } from "node:crypto";
import { asciiJson, type LogRecord } from "../sys/log.ts";

export const GENESIS = "0".repeat(64);

/** The events that go into the audit log: who ran, what crossed, what the human decided, how the boot ended. */
const AUDITED =
  /^(audit\.|room\.(started|failed|exited|killed|reset|refused|oom)|image\.(verity_failed|ignored)|policy\.rejected|console\.(action|prompt)|watchdog\.(armed|absent|stopped)|shutdown\.(begin|complete)|power\.button|input\.ctrl_alt_del|umbilical\.|courier\.|vault\.)/;

export const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex");

/** Unused by the firmware and systemd's stub, and not resettable by software (locality 0). */
export const AUDIT_PCR = 15;

export type AuditChain = { seq: number; head: string };

/**
 * The next line of the chain for `record` (an object without seq/prev), and
 * the chain after it. Printable ASCII, as the log: a room's text may hold
 * controls or bidi overrides that a terminal showing the file would obey.
 */
export function appendRecord(
  chain: AuditChain,
  boot: string,
  record: Record<string, unknown>,
): { line: string; chain: AuditChain } {
  const line = asciiJson({ ...record, boot, seq: chain.seq, prev: chain.head });
  return { line, chain: { seq: chain.seq + 1, head: sha256(line) } };
}

/**
 * The last record of a boot's copy in the vault when the vault was locked in
 * order: a copy that lacks it ended by a power cut or a crash, or lost its tail.
 */
export const CLOSING_EVENT = "audit.closed";

/**
 * Takes every log record, chains the audited ones and hands each line to
 * `append` (the file under /run/anchor/) and its hash to `anchor` (the TPM).
 */
export function auditRecorder(
  boot: string,
  append: (line: string) => void,
  anchor: (hash: string) => void,
): (record: LogRecord) => void {
  let chain: AuditChain = { seq: 0, head: GENESIS };
  return (record) => {
    if (!AUDITED.test(record.event)) return;
    const next = appendRecord(chain, boot, record);
    append(`${next.line}\n`);
    anchor(next.chain.head);
    chain = next.chain;
  };
}

/** The record by which each boot's copy names the one before it (audit/verify.ts checks the links). */
export const LINK_EVENT = "audit.flushed";
