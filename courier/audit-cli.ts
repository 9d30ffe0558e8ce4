/**
 * `npm run audit -- verify FILE`: checks an Anchor OS audit log on a host
 * (a copy from /run/anchor/audit.jsonl or the vault's /persist/audit/).
 * Prints the record count and the chain head, or the first broken line;
 * exits 0 only for an intact chain.
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { verifyAudit } from "./audit.ts";

const cli = z.tuple([z.literal("verify"), z.string().min(1)], { error: "usage: npm run audit -- verify FILE" }).safeParse(process.argv.slice(2));
if (!cli.success) {
  process.stderr.write(`audit: ${cli.error.issues[0]?.message ?? "usage: npm run audit -- verify FILE"}\n`);
  process.exit(2);
}
const file = cli.data[1];
let text: string;
try {
  text = readFileSync(file, "utf8");
} catch (error) {
  process.stderr.write(`audit: cannot read ${file}: ${String(error)}\n`);
  process.exit(2);
}
const verdict = verifyAudit(text);
if (verdict.ok) {
  process.stdout.write(`${file}: intact, ${verdict.records} records, head ${verdict.head}\n`);
} else {
  process.stdout.write(`${file}: broken at line ${verdict.line}: ${verdict.reason} (${verdict.records} records before it are intact)\n`);
  process.exit(1);
}
