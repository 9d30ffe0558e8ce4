/** What every benchmark shares: how many runs, how long a boot may take, medians, the rooms' overlay, a table row. */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { CpioEntry } from "../uki/cpio.ts";
import { testOverlay } from "../test/qemu/overlay.ts";
import { ROOT, type Record } from "../test/qemu/vm.ts";

/** One line of a benchmark's table: what, the figures, and the target or the baseline. */
export type Row = [string, string, string];

export const RUNS = 3;
export const BOOT_TIMEOUT_MS = 180_000;

export const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

/** The baseline: busybox as /init, printing a ready record once /proc is up, then powering off. */
const BENCH_ROOMS = join(ROOT, "bench", "rooms");

/** The test overlay plus the bench's policies, its in-guest script and bwrap (whose libraries the image has). */
export function roomsOverlay(): CpioEntry[] {
  const policies = join(BENCH_ROOMS, "policies");
  return [
    ...testOverlay(),
    ...readdirSync(policies).map((n): CpioEntry => ({
      kind: "file",
      path: `etc/anchor/policies/${n}`,
      mode: 0o644,
      data: readFileSync(join(policies, n)),
    })),
    { kind: "file", path: "bench/compare.sh", mode: 0o755, data: readFileSync(join(BENCH_ROOMS, "compare.sh")) },
    { kind: "file", path: "usr/bin/bwrap", mode: 0o755, data: readFileSync("/usr/bin/bwrap") },
  ];
}

export const guestMs = (r: Record): number => Date.parse(String(r.ts));
