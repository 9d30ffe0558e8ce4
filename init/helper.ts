/**
 * bay0's side of a helper process: bay0's own executable in another mode
 * (init/main.ts lists them), started as root, never PID 1. Each line it
 * prints is JSON: either one of its log records, which bay0 logs as its own
 * when the event is under the helper's `prefix` (a helper speaks only of its
 * own concern), or a reply that `reply` accepts. Any other text is kept as
 * its last words, for the error when it ends without the reply awaited.
 */
import { z } from "zod";
import { BAY0 } from "./layout.ts";
import { parseJsonOrNull } from "../sys/files.ts";
import type { Log } from "../sys/log.ts";
import type { Child, ChildExit, Spawner } from "../sys/spawn.ts";

/** A record a helper may have bay0 log: an event under `prefix`, at info, warn or error. */
export const helperRecordSchema = (prefix: string) =>
  z
    .object({ level: z.enum(["info", "warn", "error"]), event: z.string().regex(new RegExp(`^${prefix}\\.[a-z_]+$`)) })
    .catchall(z.unknown());

export type Helper = { child: Child; lastWords: () => string };

export function startHelper<T>(
  deps: { spawner: Spawner; log: Log },
  args: string[],
  options: {
    prefix: string;
    reply: z.ZodType<T>;
    onReply: (reply: T) => void;
    input?: boolean;
    fds?: number[];
    user?: { uid: number; gid: number };
    lineMax?: number;
  },
): Helper {
  const records = helperRecordSchema(options.prefix);
  let said = "";
  const child = deps.spawner.spawn(
    [BAY0, ...args],
    (stream, line) => {
      const value = stream === "stdout" ? parseJsonOrNull(line) : null;
      const reply = options.reply.safeParse(value);
      if (reply.success) return options.onReply(reply.data);
      const record = records.safeParse(value);
      // A JSON message out of shape is not kept as words: it may carry what a prompt shows (a recovery key).
      if (!record.success) return void (said = value === null ? line.slice(0, 300) : "a message bay0 could not read");
      const { level, event, ts: _, ...fields } = record.data;
      deps.log[level](event, fields);
    },
    { input: options.input === true, fds: options.fds, user: options.user, lineMax: options.lineMax },
  );
  return { child, lastWords: () => said };
}

/** An end as errors say it: "status 1", or the signal. */
export const exitText = (exit: ChildExit): string => exit.signal ?? `status ${exit.status}`;
