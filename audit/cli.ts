/**
 * `npm run audit -- verify FILE [--pcr HEX]` and `npm run audit -- verify
 * FILE FILE...`: checks Anchor OS audit logs on a host (a copy of
 * /run/anchor/audit.jsonl, or the boots' files from the vault's audit/).
 * With --pcr, the value of the TPM's PCR 15 read in the same boot, a log cut
 * short or rewritten whole is caught too. Given several boots' files (the
 * whole audit/ folder), it also checks that each still holds what the next
 * boot recorded of it. Prints each file's record count, chain head and the
 * PCR value it replays to, or its first broken line; exits 0 only when
 * every chain and every link holds.
 */
import { closeSync, openSync } from "node:fs";
import { basename } from "node:path";
import { z } from "zod";
import { CLOSING_EVENT } from "./chain.ts";
import { AUDIT_LINE_MAX_BYTES, brokenLinks, summarize, type Summary } from "./verify.ts";
import { linesOfFile } from "../sys/file-lines.ts";

const USAGE = "usage: npm run audit -- verify FILE [--pcr HEX] | verify FILE FILE...";
const file = z
  .string()
  .min(1)
  .refine((f) => !f.startsWith("--"));
const cli = z
  .union(
    [
      z.tuple([z.literal("verify"), file, z.literal("--pcr"), z.string().regex(/^[0-9a-fA-F]{64}$/)]),
      z.tuple([z.literal("verify"), file]).rest(file),
    ],
    { error: USAGE },
  )
  .safeParse(process.argv.slice(2));
if (!cli.success) {
  process.stderr.write(`audit: ${USAGE}\n`);
  process.exit(2);
}
const [, ...rest] = cli.data;
const pcr = rest[1] === "--pcr" ? (rest[2] ?? null) : null;
const files = pcr === null ? rest : rest.slice(0, 1);
/** Each file's summary, read line by line, in the order given. */
const summaries = files.map((path): [string, Summary] => {
  try {
    const fd = openSync(path, "r");
    try {
      return [path, summarize(linesOfFile(fd, AUDIT_LINE_MAX_BYTES), pcr)];
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    process.stderr.write(`audit: cannot read ${path}: ${String(error)}\n`);
    process.exit(2);
  }
});
const copies = new Map(summaries.map(([path, summary]) => [basename(path), summary]));
let intact = true;
for (const [path, { verdict }] of summaries) {
  if (verdict.ok) {
    process.stdout.write(
      `${path}: intact, ${verdict.records} records, head ${verdict.head}, PCR 15 ${verdict.pcr}${pcr ? " (matches the TPM)" : " (not checked against a TPM)"}\n`,
    );
    if (!verdict.closed)
      process.stdout.write(
        `${path}: does not end with ${CLOSING_EVENT}: the vault was not locked in order after it (a power cut, a crash, the tail cut off, or the live log of a boot)\n`,
      );
  } else {
    process.stdout.write(
      `${path}: broken at line ${verdict.line}: ${verdict.reason} (${verdict.records} records before it are intact)\n`,
    );
    intact = false;
  }
}
// One file alone names a file before it that was not given; links are checked among several.
if (files.length > 1) {
  for (const gap of brokenLinks(copies)) {
    process.stdout.write(`${gap.file}: ${gap.reason}\n`);
    intact = false;
  }
}
process.exit(intact ? 0 : 1);
