/**
 * What bay0 and one transfer's carrier (`bay0 courier-carry`,
 * courier/carry.ts) say to each other, one JSON line each way: first
 * "stage" (open the sender's file confined to its root, copy it where no
 * room can reach while hashing it: what the person will approve), then,
 * once the person chose, "deliver" (the courier copies those staged bytes
 * into the receiver's inbox or vault folder) or the end of bay0's lines
 * (denied: the staged copy is dropped). The requests' schema is the
 * carrier's (courier/carry-request.ts), which alone parses them.
 */
import { z } from "zod";

export const carryReplySchema = z.union([
  z.object({
    ok: z.literal(true),
    staged: z.object({ size: z.number().int().min(0), sha256: z.string().regex(/^[0-9a-f]{64}$/) }),
  }),
  z.object({ ok: z.literal(true), delivered: z.string().max(300) }),
  z.object({ ok: z.literal(false), reason: z.string().max(1000) }),
]);
export type CarryReply = z.infer<typeof carryReplySchema>;

/** Time a transfer's copy has, plus a second per 2 MiB: far more than a copy needs, far less than for ever. */
const DEADLINE_FLOOR_MS = 30_000;
const DEADLINE_BYTES_PER_MS = (2 * 1024 * 1024) / 1000;

/** When a copy of `size` bytes that has not ended is killed (a frozen room freezes it too), so the queue never waits on one for ever. */
export const copyDeadlineMs = (size: number): number => Math.round(DEADLINE_FLOOR_MS + size / DEADLINE_BYTES_PER_MS);
