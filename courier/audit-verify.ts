/**
 * Checks audit logs (courier/audit.ts): one boot's chain, with or without
 * the PCR 15 value that anchors its end, and the links between the boots'
 * copies in the vault. Each copy names the one before it and the hash of
 * that copy's last line (`audit.flushed`'s `after` and `after_head`), so the
 * boots' files form one chain too: a file deleted, or cut, after a later
 * boot read it is caught; and the newest against the TPM's count of vault
 * openings (vault/open-counter.ts), which no file deletion winds back. Pure; run by the vault helper when the vault
 * opens (it reads what whoever holds the vault's key may have written, so
 * not by PID 1) and by the host verifier (`npm run audit -- verify`).
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { AUDIT_PCR, CLOSING_EVENT, GENESIS, LINK_EVENT, sha256 } from "./audit.ts";

/** The SHA-256 PCR value after extending a fresh (zero) PCR with every line's hash, in order. */
export function replayPcr(lines: string[]): string {
  let pcr = Buffer.alloc(32);
  for (const line of lines) pcr = createHash("sha256").update(pcr).update(Buffer.from(sha256(line), "hex")).digest();
  return pcr.toString("hex");
}

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

/** The hash a later boot's copy records for this one: its last line's, which is its chain's head whether or not the chain holds. */
export function tailHash(text: string): string {
  const last = text.split("\n").filter((line) => line !== "").at(-1);
  return last === undefined ? GENESIS : sha256(last);
}

/** The fields of a copy's first audit.flushed record that later boots check. */
const flushedSchema = z.object({
  event: z.literal(LINK_EVENT),
  after: z.string().min(1).nullable().optional(),
  after_head: z.string().regex(/^[0-9a-f]{64}$/).nullable().optional(),
  count: z.number().int().nonnegative().nullable().optional(),
});

/** A copy's first audit.flushed record (the vault opening that began it), or null without one. */
function flushedOf(text: string): z.infer<typeof flushedSchema> | null {
  for (const line of text.split("\n")) {
    if (!line.includes(LINK_EVENT)) continue;
    try {
      const flushed = flushedSchema.safeParse(JSON.parse(line));
      if (flushed.success) return flushed.data;
    } catch {
      // A broken line is the chain's finding, not the link's.
    }
  }
  return null;
}

/** The copy this one names as the one before it, and that copy's tail hash as it was then; null for the first (or one from before links). */
export function linkOf(text: string): { file: string; head: string } | null {
  const flushed = flushedOf(text);
  return typeof flushed?.after === "string" && typeof flushed.after_head === "string" ? { file: flushed.after, head: flushed.after_head } : null;
}

/** The TPM's count of vault openings that this copy's boot got (vault/open-counter.ts); null when it got none. */
export const countOf = (text: string): number | null => flushedOf(text)?.count ?? null;

/**
 * Why the newest copy (`newest`, which recorded `recorded`) is not the last
 * vault opening the TPM counted (`counted`, before this one; "absent" when
 * the TPM has no counter, null when it did not say): null when it is, or
 * when there is nothing to compare.
 */
export function countGap(newest: string | null, recorded: number | null, counted: number | "absent" | null): { file: string; reason: string } | null {
  if (newest === null || recorded === null || counted === null || counted === recorded) return null;
  if (counted === "absent") return { file: newest, reason: `this file says the TPM counted ${recorded} vault openings, and the TPM has no such count: it was cleared, or this is another machine's vault` };
  if (counted > recorded) {
    const missing = counted - recorded;
    return { file: newest, reason: `the TPM counted ${missing} vault opening${missing === 1 ? "" : "s"} after this file's, whose file${missing === 1 ? " is" : "s are"} gone (deleted, or the power failed the moment the vault opened)` };
  }
  return { file: newest, reason: `this file says the TPM counted ${recorded} vault openings, the TPM says ${counted}: files from another TPM, or the TPM was cleared` };
}

/** Every link among the boots' copies (name -> text) that no longer holds: the named copy is gone, or its end changed since. */
export function brokenLinks(copies: ReadonlyMap<string, string>): { file: string; reason: string }[] {
  const found: { file: string; reason: string }[] = [];
  for (const [name, text] of copies) {
    const link = linkOf(text);
    if (link === null) continue;
    const before = copies.get(link.file);
    if (before === undefined) found.push({ file: link.file, reason: `missing: ${name} names it as the boot's file before its own` });
    else if (tailHash(before) !== link.head) found.push({ file: link.file, reason: `its end is not what ${name}'s boot found there: records were cut from it, or it was rewritten` });
  }
  return found;
}

/** What the vault helper reports of the earlier boots' copies when the vault opens (bay0 logs it as audit.broken and audit.flushed). */
export type CopiesFound = {
  earlier: number;
  /** Copies that do not end with audit.closed. */
  unfinished: string[];
  /** Every broken chain (its first bad line) and every broken link. */
  broken: { file: string; line?: number; reason: string }[];
  /** The newest copy and its tail hash: what this boot's copy names as the one before it. */
  after: string | null;
  after_head: string | null;
  /** The TPM's count of vault openings, this one included (vault/open-counter.ts); null without one. */
  count: number | null;
};

/** At most this many names in each list (vault/open-protocol.ts takes no more): the reply stays short whatever the folder holds. */
export const LISTED = 100;

/**
 * Checks the earlier boots' copies (name -> text, names sorting in the order
 * of the boots): each chain, the links between them, and the newest against
 * the TPM's count of vault openings before this one (`counted`, as for
 * countGap). `count` is left for the caller, who adds this opening.
 */
export function checkCopies(copies: ReadonlyMap<string, string>, counted: number | "absent" | null): CopiesFound {
  const names = [...copies.keys()].sort();
  const unfinished: string[] = [];
  const broken: CopiesFound["broken"] = [];
  for (const name of names) {
    const verdict = verifyAudit(copies.get(name) ?? "");
    if (!verdict.ok) broken.push({ file: name, line: verdict.line, reason: verdict.reason });
    else if (!verdict.closed) unfinished.push(name);
  }
  broken.push(...brokenLinks(copies));
  const after = names.at(-1) ?? null;
  const gap = countGap(after, after === null ? null : countOf(copies.get(after) ?? ""), counted);
  if (gap !== null) broken.push(gap);
  return { earlier: names.length, unfinished: unfinished.slice(0, LISTED), broken: broken.slice(0, LISTED), after, after_head: after === null ? null : tailHash(copies.get(after) ?? ""), count: null };
}
