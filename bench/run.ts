/**
 * `npm run bench`: measures the built image against baselines booted in the
 * same run on the same kernel, and prints ratios (absolute times under TCG
 * depend on the machine and its load; ratios much less so). Without an
 * argument: boot (bench/boot.ts), rooms (bench/spawn.ts) and the console
 * (bench/console.ts); `npm run bench -- NAME` runs only NAME, one of boot,
 * spawn, console, courier (bench/courier.ts), vault (bench/vault.ts).
 */
import { bootRows } from "./boot.ts";
import { RUNS, type Row } from "./common.ts";
import { consoleRows } from "./console.ts";
import { courierRows } from "./courier.ts";
import { spawnRows } from "./spawn.ts";
import { vaultRows } from "./vault.ts";

const BENCHMARKS: Record<string, () => Promise<Row[]>> = {
  boot: bootRows,
  spawn: spawnRows,
  console: consoleRows,
  courier: courierRows,
  vault: vaultRows,
};
const DEFAULT = ["boot", "spawn", "console"];

async function main(): Promise<void> {
  const asked = process.argv.slice(2).filter((a) => a in BENCHMARKS);
  const rows: Row[] = [];
  for (const name of asked.length > 0 ? asked : DEFAULT) rows.push(...((await BENCHMARKS[name]?.()) ?? []));
  process.stdout.write(`\nAnchor OS benchmark (median of ${RUNS}, TCG, same kernel)\n`);
  for (const [what, value, note] of rows) process.stdout.write(`  ${what.padEnd(38)} ${value.padEnd(46)} ${note}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`[bench] failed: ${String(error)}\n`);
  process.exit(1);
});
