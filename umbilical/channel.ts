/**
 * Between bay0 and the umbilical's server (`bay0 umbilical`, umbilical/serve.ts),
 * one JSON line each way: bay0 opens and closes rooms' sockets and answers
 * requests; the server reads rooms' frames, admits them, parses a nested
 * room's policy, and forwards what a room asked. bay0 validates every line
 * again: the server parses hostile input, so bay0 trusts none of it. What
 * bay0 says, which only the server parses, is in umbilical/to-umbilical.ts.
 */
import { z } from "zod";

/** Who the server runs as: no room's id (rooms map theirs from 100000), not root, not the console's. */
export const UMBILICAL_USER = { uid: 991, gid: 991 } as const;
/** Where bay0 makes each room's socket directory (bind-mounted at the room's /run/anchor): traversable by the server, unlike /run/anchor. */
export const UMBILICAL_RUN_DIR = "/run/umbilical";
/** A forwarded request carries a policy of up to 32 KiB of TOML as JSON: bay0 reads lines this long from the server. */
export const UMBILICAL_LINE_MAX = 256 * 1024;
/** The requests a room may send, per room: a burst, then so many a second (the server's limit; bay0 allows twice as many). */
export const UMBILICAL_RATE = { burst: 10, perSecond: 2 } as const;

export type ErrorCode = "malformed" | "oversized" | "not_allowed" | "rate_limited" | "refused" | "unavailable";
export type Refusal = { ok: false; error: { code: ErrorCode; message: string } };
export type Reply = ({ ok: true } & Record<string, unknown>) | Refusal;

export const refusal = (code: ErrorCode, message: string): Refusal => ({ ok: false, error: { code, message } });

export const room = z.string().min(1).max(300);

/** A request as the server forwards it: a nested room's policy as the plain data its TOML held. */
export const forwardedSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("room.status") }).strict(),
  z.object({ type: z.literal("room.spawn"), policy: z.record(z.string(), z.unknown()) }).strict(),
  z.object({ type: z.literal("courier.send"), path: z.string().min(1).max(4096) }).strict(),
]);
export type Forwarded = z.infer<typeof forwardedSchema>;

export const fromUmbilicalSchema = z.discriminatedUnion("type", [
  /** The room's socket is there (error null), or why not. */
  z.object({ type: z.literal("listening"), room, error: z.string().max(1000).nullable() }),
  /** What a connection on `room`'s socket asked, its peer's pid as bay0 sees it. */
  z.object({
    type: z.literal("request"),
    id: z.number().int(),
    room,
    pid: z.number().int().nullable(),
    request: forwardedSchema,
  }),
]);
export type FromUmbilical = z.infer<typeof fromUmbilicalSchema>;
