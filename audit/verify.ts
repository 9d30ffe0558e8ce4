/**
 * Checks audit logs (audit/chain.ts): one boot's chain, with or without
 * the PCR 15 value that anchors its end, and the links between the boots'
 * copies in the vault. Each copy names the one before it and the hash of
 * that copy's last line (`audit.flushed`'s `after` and `after_head`), so the
 * boots' files form one chain too: a file deleted, or cut, after a later
 * boot read it is caught; and the newest is checked against the TPM's
 * count of vault openings (vault/open-counter.ts), which no file deletion
 * winds back. Each file is read once, line by line, into a small summary.
 * Pure; run by the vault helper when the vault opens (it reads what
 * whoever holds the vault's key may have written, so not by PID 1) and by
 * the host verifier (`npm run audit -- verify`).
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { AUDIT_PCR, CLOSING_EVENT, GENESIS, LINK_EVENT, sha256 } from "./chain.ts";

/** Far longer than any record bay0 writes: the longest line a check of a file holds (sys/file-lines.ts). */
export const AUDIT_LINE_MAX_BYTES = 1024 * 1024;

/** A PCR's value after the TPM extends it (SHA-256 bank) with `hash`. */
const extend = (pcr: Buffer, hash: string): Buffer =>
  createHash("sha256").update(pcr).update(Buffer.from(hash, "hex")).digest();

export type Verdict =
  | { ok: true; records: number; head: string; pcr: string; closed: boolean }
  | { ok: false; line: number; reason: string; records: number };

/** The fields of a copy's first audit.flushed record that later boots check. */
const flushedSchema = z.object({
  event: z.literal(LINK_EVENT),
  after: z.string().min(1).nullable().optional(),
  after_head: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .nullable()
    .optional(),
  count: z.number().int().nonnegative().nullable().optional(),
});

/** A line's audit.flushed fields, or null when it is not such a record. */
function flushedOf(line: string): z.infer<typeof flushedSchema> | null {
  try {
    const flushed = flushedSchema.safeParse(JSON.parse(line));
    return flushed.success ? flushed.data : null;
  } catch {
    // A broken line is the chain's finding, not the link's.
    return null;
  }
}

/** Why line `seq` (0-based) does not continue a chain whose head is `head`, or its event when it does. */
function chainBreak(line: string, seq: number, head: string): { reason: string } | { event: unknown } {
  let record: unknown;
  try {
    record = JSON.parse(line);
  } catch {
    return { reason: "not a JSON line" };
  }
  if (typeof record !== "object" || record === null) return { reason: "not a JSON object" };
  const fields = record as { seq?: unknown; prev?: unknown; event?: unknown };
  if (fields.seq !== seq)
    return { reason: `seq is ${String(fields.seq)}, expected ${seq}: a record was removed, added or moved` };
  if (fields.prev !== head) return { reason: "prev does not match the line before: that line or this one was changed" };
  return { event: fields.event };
}

/**
 * What one boot's log is, read once line by line (so a large file is never
 * held whole), and what the other boots' copies are checked against: the
 * chain's verdict; the hash of its last line (`tail`, which a later boot's
 * copy records as this one's end, whether or not the chain holds); the copy
 * it names as the one before it, with that copy's tail as it was then (null
 * for the first, or one from before links); and the TPM's count of vault
 * openings its boot got (vault/open-counter.ts; null when it got none).
 */
export type Summary = {
  verdict: Verdict;
  tail: string;
  link: { file: string; head: string } | null;
  count: number | null;
};

/**
 * Replays a log: its verdict is the first broken line (1-based) and why, or
 * the record count, the chain's head and the PCR value its lines' hashes
 * extend a fresh (zero) PCR to. Given the PCR as the TPM holds it
 * (`anchor`), a log that ends early or was rewritten whole is broken too.
 */
export function summarize(lines: Iterable<string>, anchor: string | null = null): Summary {
  let head = GENESIS;
  let tail = GENESIS;
  let pcr: Buffer = Buffer.alloc(32);
  let last: unknown = null;
  let broken: Verdict | null = null;
  let flushed: z.infer<typeof flushedSchema> | null = null;
  let seq = 0;
  for (const line of lines) {
    const hash = sha256(line);
    pcr = extend(pcr, hash);
    if (line !== "") tail = hash;
    if (flushed === null && line.includes(LINK_EVENT)) flushed = flushedOf(line);
    if (broken === null) {
      const found = chainBreak(line, seq, head);
      if ("reason" in found) broken = { ok: false, line: seq + 1, reason: found.reason, records: seq };
      else [head, last] = [hash, found.event];
    }
    seq++;
  }
  const replayed = pcr.toString("hex");
  const link =
    typeof flushed?.after === "string" && typeof flushed.after_head === "string"
      ? { file: flushed.after, head: flushed.after_head }
      : null;
  const summary = (verdict: Verdict): Summary => ({ verdict, tail, link, count: flushed?.count ?? null });
  if (broken !== null) return summary(broken);
  if (anchor !== null && anchor.toLowerCase() !== replayed) {
    return summary({
      ok: false,
      line: seq + 1,
      reason: `the log does not replay to PCR ${AUDIT_PCR} as the TPM holds it: records were cut from its end, or it was rewritten`,
      records: seq,
    });
  }
  return summary({ ok: true, records: seq, head, pcr: replayed, closed: last === CLOSING_EVENT });
}

/** A log's lines from its whole text: split on "\n", a final newline ending the last line. */
function linesOfText(text: string): string[] {
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  return lines;
}

/** summarize, for a log's whole text. */
export const summarizeText = (text: string, anchor: string | null = null): Summary =>
  summarize(linesOfText(text), anchor);

/** The chain's verdict on a log's whole text (see summarize). */
export const verifyAudit = (text: string, anchor: string | null = null): Verdict => summarizeText(text, anchor).verdict;

/**
 * Why the newest copy (`newest`, which recorded `recorded`) is not the last
 * vault opening the TPM counted (`counted`, before this one; "absent" when
 * the TPM has no counter, null when it did not say): null when it is, or
 * when there is nothing to compare.
 */
export function countGap(
  newest: string | null,
  recorded: number | null,
  counted: number | "absent" | null,
): { file: string; reason: string } | null {
  if (newest === null || recorded === null || counted === null || counted === recorded) return null;
  if (counted === "absent")
    return {
      file: newest,
      reason: `this file says the TPM counted ${recorded} vault openings, and the TPM has no such count: it was cleared, or this is another machine's vault`,
    };
  if (counted > recorded) {
    const missing = counted - recorded;
    return {
      file: newest,
      reason: `the TPM counted ${missing} vault opening${missing === 1 ? "" : "s"} after this file's, whose file${missing === 1 ? " is" : "s are"} gone (deleted, or the power failed the moment the vault opened)`,
    };
  }
  return {
    file: newest,
    reason: `this file says the TPM counted ${recorded} vault openings, the TPM says ${counted}: files from another TPM, or the TPM was cleared`,
  };
}

/** Every link among the boots' copies (name -> summary) that no longer holds: the named copy is gone, or its end changed since. */
export function brokenLinks(copies: ReadonlyMap<string, Summary>): { file: string; reason: string }[] {
  const found: { file: string; reason: string }[] = [];
  for (const [name, { link }] of copies) {
    if (link === null) continue;
    const before = copies.get(link.file);
    if (before === undefined)
      found.push({ file: link.file, reason: `missing: ${name} names it as the boot's file before its own` });
    else if (before.tail !== link.head)
      found.push({
        file: link.file,
        reason: `its end is not what ${name}'s boot found there: records were cut from it, or it was rewritten`,
      });
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
 * The boots' copies in the order of their boots, by what they recorded, not
 * by their names (which come from the clock, and a clock can be reset): the
 * TPM's count of vault openings each recorded; for copies from before the
 * count, how many links lead back from each; the name only to break a tie.
 */
export function bootOrder(copies: ReadonlyMap<string, Summary>): [string, Summary][] {
  const depth = (name: string): number => {
    let steps = 0;
    for (
      let at = copies.get(name)?.link?.file;
      at !== undefined && steps < copies.size;
      at = copies.get(at)?.link?.file
    )
      steps++;
    return steps;
  };
  const key = ([name, summary]: [string, Summary]): [number, number] =>
    summary.count !== null ? [1, summary.count] : [0, depth(name)];
  return [...copies].sort((a, b) => {
    const [ka, kb] = [key(a), key(b)];
    return ka[0] - kb[0] || ka[1] - kb[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
  });
}

/**
 * Checks the earlier boots' copies (name -> summary): each chain, the links
 * between them, and the newest (bootOrder's last) against the TPM's count of
 * vault openings before this one (`counted`, as for countGap). `count` is
 * left for the caller, who adds this opening.
 */
export function checkCopies(copies: ReadonlyMap<string, Summary>, counted: number | "absent" | null): CopiesFound {
  const sorted = bootOrder(copies);
  const unfinished: string[] = [];
  const broken: CopiesFound["broken"] = [];
  for (const [name, { verdict }] of sorted) {
    if (!verdict.ok) broken.push({ file: name, line: verdict.line, reason: verdict.reason });
    else if (!verdict.closed) unfinished.push(name);
  }
  broken.push(...brokenLinks(copies));
  const [after, newest] = sorted.at(-1) ?? [null, null];
  const gap = countGap(after, newest?.count ?? null, counted);
  if (gap !== null) broken.push(gap);
  return {
    earlier: sorted.length,
    unfinished: unfinished.slice(0, LISTED),
    broken: broken.slice(0, LISTED),
    after,
    after_head: newest?.tail ?? null,
    count: null,
  };
}
