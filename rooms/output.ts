import type { Log } from "../sys/log.ts";
import type { ChildStream } from "../sys/spawn.ts";

const LINES_BURST = 200;
const LINES_PER_SECOND = 50;
/** Bytes of log record text (after escaping) a room may cause: about the serial line's speed. */
const BYTES_BURST = 32 * 1024;
const BYTES_PER_SECOND = 8 * 1024;

/** What a line costs in the log: every character outside printable ASCII is written as \uXXXX (6 bytes). */
export function loggedBytes(line: string): number {
  let cost = line.length;
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) cost += 5;
  }
  return cost;
}

/** A token bucket: `rate` tokens a second, at most `burst` saved (room output to the log, and to a terminal). */
export function tokenBucket(burst: number, rate: number, now: () => number) {
  let tokens = burst;
  let last = now();
  return {
    take(cost: number): boolean {
      const t = now();
      tokens = Math.min(burst, tokens + ((t - last) / 1000) * rate);
      last = t;
      if (tokens < cost) return false;
      tokens -= cost;
      return true;
    },
  };
}

/**
 * Turns a room's output into `room.output` records, at most 50 lines and
 * 8 KiB (escaped) a second, with bursts of 200 lines and 32 KiB: a chatty
 * or hostile room cannot flood bay0's log or its console. Dropped lines are
 * counted in `room.output_dropped`.
 */
export function createOutputLimiter(log: Log, room: string, now: () => number) {
  const lines = tokenBucket(LINES_BURST, LINES_PER_SECOND, now);
  const bytes = tokenBucket(BYTES_BURST, BYTES_PER_SECOND, now);
  let dropped = 0;
  const flush = (): void => {
    if (dropped > 0) log.warn("room.output_dropped", { room, lines: dropped });
    dropped = 0;
  };
  return {
    line(stream: ChildStream, line: string): void {
      // Both buckets are asked, so a refused line still spends its line token: floods cost the flooder.
      const lineOk = lines.take(1);
      if (!lineOk || !bytes.take(loggedBytes(line))) {
        dropped += 1;
        return;
      }
      if (dropped > 0) flush();
      log.info("room.output", { room, stream, line });
    },
    flush,
  };
}
