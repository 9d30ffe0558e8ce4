/**
 * bay0's side of a helper process: bay0's own executable in another mode
 * (init/main.ts lists them), started as root, never PID 1. Each line it
 * prints is JSON: either one of its log records, which bay0 logs as its own
 * when the event is under the helper's `prefix` (a helper speaks only of its
 * own concern), or a reply that `reply` accepts. Any other text is kept as
 * its last words, for the error when it ends without the reply awaited.
 */
import { z } from "zod";
import { denial, type PromptAnswer, type PromptRequest } from "../console/protocol.ts";
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

/**
 * A helper's dialog with the person (vault/dialog.ts `talkToBay0` is its
 * side): its prompts shown at the console, or denied when there is none,
 * the answers written back; its reports to `onReport`, which returns true
 * for the last one. Null once it ended well (or said its last report: bay0
 * then closes its stdin and does not wait for its exit, which is only
 * logged as `PREFIX.helper_ended` if it goes wrong), else how it ended and
 * its last words.
 */
export async function converse<Report>(
  deps: { spawner: Spawner; log: Log },
  args: string[],
  options: {
    prefix: string;
    reply: z.ZodType<Report | { prompt: PromptRequest }>;
    ask: ((request: PromptRequest) => Promise<PromptAnswer>) | null;
    onReport: (report: Report) => boolean;
  },
): Promise<string | null> {
  let said: () => void = () => undefined;
  const last = new Promise<null>((resolve) => (said = () => resolve(null)));
  const answer = (request: PromptRequest): Promise<PromptAnswer> =>
    options.ask !== null
      ? options.ask(request)
      : Promise.resolve(
          request.kind === "confirm" ? { kind: "choice", index: 0, timedOut: false } : denial(request, false),
        );
  const isPrompt = (message: unknown): message is { prompt: PromptRequest } =>
    typeof message === "object" && message !== null && "prompt" in message;
  const helper = startHelper(deps, args, {
    prefix: options.prefix,
    reply: options.reply,
    input: true,
    onReply: (message) => {
      if (!isPrompt(message)) {
        if (options.onReport(message)) {
          helper.child.stdin?.end();
          said();
        }
        return;
      }
      void answer(message.prompt)
        .then((given) => helper.child.stdin?.write(`${JSON.stringify({ answer: given })}\n`))
        .catch((error: unknown) =>
          deps.log.error("bay0.error", { where: `${options.prefix}.prompt`, error: String(error) }),
        );
    },
  });
  const ended = helper.child.exited.then((exit) =>
    exit.status === 0 ? null : `the ${options.prefix} helper ended (${exitText(exit)}): ${helper.lastWords()}`,
  );
  const outcome = await Promise.race([last, ended]);
  if (outcome === null)
    void ended.then(
      (late) => late !== null && deps.log.warn(`${options.prefix}.helper_ended`, { helper: args[0], error: late }),
    );
  return outcome;
}
