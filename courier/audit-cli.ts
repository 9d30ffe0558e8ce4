/**
 * `npm run audit -- verify FILE [--pcr HEX]`: checks an Anchor OS audit log
 * on a host (a copy of /run/anchor/audit.jsonl, or a boot's file from the
 * vault's audit/). With --pcr, the value of the TPM's PCR 15 read in the
 * same boot, a log cut short or rewritten whole is caught too. Prints the record count, the chain head and the PCR value it
 * replays to, or the first broken line; exits 0 only for an intact chain.
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { CLOSING_EVENT, verifyAudit } from "./audit.ts";

const USAGE = "usage: npm run audit -- verify FILE [--pcr HEX]";
const cli = z
  .union([z.tuple([z.literal("verify"), z.string().min(1)]), z.tuple([z.literal("verify"), z.string().min(1), z.literal("--pcr"), z.string().regex(/^[0-9a-fA-F]{64}$/)])], { error: USAGE })
  .safeParse(process.argv.slice(2));
if (!cli.success) {
  process.stderr.write(`audit: ${USAGE}\n`);
  process.exit(2);
}
const [, file, , pcr] = cli.data;
let text: string;
try {
  text = readFileSync(file, "utf8");
} catch (error) {
  process.stderr.write(`audit: cannot read ${file}: ${String(error)}\n`);
  process.exit(2);
}
const verdict = verifyAudit(text, pcr ?? null);
if (verdict.ok) {
  process.stdout.write(`${file}: intact, ${verdict.records} records, head ${verdict.head}, PCR 15 ${verdict.pcr}${pcr ? " (matches the TPM)" : " (not checked against a TPM)"}\n`);
  if (!verdict.closed) process.stdout.write(`${file}: does not end with ${CLOSING_EVENT}: the vault was not locked in order after it (a power cut, a crash, the tail cut off, or the live log of a boot)\n`);
} else {
  process.stdout.write(`${file}: broken at line ${verdict.line}: ${verdict.reason} (${verdict.records} records before it are intact)\n`);
  process.exit(1);
}
