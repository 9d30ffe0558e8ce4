/**
 * What bay0 and the trusted console helper (`bay0 console`) say to each
 * other: one JSON object per line, bay0's on the helper's stdin, the
 * helper's on its stdout (beside its log records); a room's terminal travels
 * as a file descriptor on the helper's fd 3 just before the line naming it.
 * Each side parses what it receives with these schemas (bay0's messages, which
 * only the helper parses, are in console/to-console.ts): bay0 trusts the helper
 * no more than it must (it parses rooms' terminal output, the most hostile input there is).
 */
import { z } from "zod";

export const text = (max: number) => z.string().max(max);
const lines = z.array(text(200)).max(16);

/**
 * What bay0 may ask the person at the trusted console: a secret (a PIN, a
 * recovery key: typed masked, never shown, logged or given to a room), or
 * a question with choices whose default, on Esc or on timeout, is the
 * first choice (callers put "deny" there). A `dismissable` question (a
 * room's request) is also answered with that default by Ctrl-Alt-Esc. A
 * confirmation ends only when the person picks its one choice with Enter:
 * no Esc, no timeout (what must not be lost unseen, a recovery key).
 */
export const promptRequestSchema = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("secret"),
    title: text(80),
    label: text(40),
    minLength: z.number().int().min(0).max(256),
    maxLength: z.number().int().min(1).max(256),
  }),
  z.object({
    kind: z.literal("choice"),
    title: text(80),
    lines,
    choices: z.array(text(80)).min(1).max(8),
    timeoutMs: z.number().int().min(0).max(600_000),
    dismissable: z.literal(true).optional(),
  }),
  z.object({ kind: z.literal("confirm"), title: text(80), lines, choice: text(80) }),
]);
export type PromptRequest = z.infer<typeof promptRequestSchema>;

export const promptAnswerSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("secret"), value: text(256).nullable() }),
  z.object({ kind: z.literal("choice"), index: z.number().int().min(0).max(7), timedOut: z.boolean() }),
  z.object({ kind: z.literal("confirm") }),
]);
export type PromptAnswer = z.infer<typeof promptAnswerSchema>;

/** A prompt's answer when nobody gave one (the console died while it was up, or cannot ask): a denial. */
export const denial = (request: Exclude<PromptRequest, { kind: "confirm" }>, timedOut: boolean): PromptAnswer =>
  request.kind === "secret" ? { kind: "secret", value: null } : { kind: "choice", index: 0, timedOut };

/** A room's id: a nested one is up to six names of 31 characters and the slashes between (191). */
export const roomName = text(200);

/** What the person can have bay0 do from the dashboard. */
export const actionSchema = z.enum(["start", "kill", "reset", "freeze", "thaw", "lock-vault", "recovery-key"]);
export type Action = z.infer<typeof actionSchema>;

export const SHOWN_EVENTS =
  /^(room\.(started|exited|killed|failed|refused|oom|reset|frozen|thawed)|image\.(mounted|verity_failed|failed)|policy\.rejected|watchdog\.|shutdown\.begin|bay0\.error)/;

export const fromConsoleSchema = z.discriminatedUnion("type", [
  /** Set up: input watched, and the screen taken (cols and rows) or not (`console.absent` said why). */
  z.object({ type: z.literal("hello"), screen: z.boolean() }),
  /** Every second from the helper's event loop: bay0 restarts a helper that stops saying it. */
  z.object({ type: z.literal("alive") }),
  z.object({ type: z.literal("answer"), id: z.number().int(), answer: promptAnswerSchema }),
  z.object({ type: z.literal("act"), id: z.number().int(), action: actionSchema, room: roomName.nullable() }),
  z.object({ type: z.literal("power"), device: text(64) }),
  z.object({ type: z.literal("ctrl-alt-del"), device: text(64) }),
]);
export type FromConsole = z.infer<typeof fromConsoleSchema>;

/** Who the console helper runs as: no room's id (rooms map theirs from 100000), not root; it opens nothing of the machine's itself. */
export const CONSOLE_USER = { uid: 990, gid: 990 } as const;

/** The log events the helper may have bay0 log as its own. */
export const CONSOLE_EVENT_PREFIX = "(?:console|input)";
