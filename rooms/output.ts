import type { Log } from "../sys/log.ts";
import type { ChildStream } from "../sys/spawn.ts";

const BURST = 200;
const PER_SECOND = 50;

/**
 * Turns a room's output into `room.output` records, at most 50 lines a
 * second with bursts of 200: a chatty or hostile room cannot flood bay0's
 * log. Dropped lines are counted in `room.output_dropped`.
 */
export function createOutputLimiter(log: Log, room: string, now: () => number) {
  let tokens = BURST;
  let last = now();
  let dropped = 0;
  const flush = (): void => {
    if (dropped > 0) log.warn("room.output_dropped", { room, lines: dropped });
    dropped = 0;
  };
  return {
    line(stream: ChildStream, line: string): void {
      const t = now();
      tokens = Math.min(BURST, tokens + ((t - last) / 1000) * PER_SECOND);
      last = t;
      if (tokens < 1) {
        dropped += 1;
        return;
      }
      tokens -= 1;
      if (dropped > 0) flush();
      log.info("room.output", { room, stream, line });
    },
    flush,
  };
}
