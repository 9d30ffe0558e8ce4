/**
 * What bay0 and one transfer's carrier (`bay0 courier-carry`,
 * courier/carry.ts) say to each other, one JSON line each way: first
 * "stage" (open the sender's file confined to its root, copy it where no
 * room can reach while hashing it: what the person will approve), then,
 * once the person chose, "deliver" (the courier copies those staged bytes
 * into the receiver's inbox or vault folder) or the end of bay0's lines
 * (denied: the staged copy is dropped).
 */
import { z } from "zod";

const ids = z.object({ uid: z.number().int().min(0), gid: z.number().int().min(0) });
const path = z.string().min(1).max(4096);

export const carryRequestSchema = z.discriminatedUnion("do", [
  z.object({
    do: z.literal("stage"),
    /** The sender's root as bay0 mounted it, the path as the room named it, and its user on the host (whose rights are checked). */
    root: path,
    path,
    reader: ids,
    /** The sender's cgroup node: the staged copy is charged to its memory and must fit in what it has left. */
    cgroupNode: path,
    maxBytes: z.number().int().min(0),
    /** What the refusal of a file over `maxBytes` says. */
    sender: z.string().max(64),
  }),
  z.object({
    do: z.literal("deliver"),
    name: z.string().min(1).max(255),
    receiver: z.object({
      id: z.string().max(64),
      /** The receiver's user as the room sees it (the courier runs as it) and on the host (who owns what lands). */
      user: ids,
      hostUser: ids,
      cgroupNode: path,
    }),
    into: z.discriminatedUnion("kind", [
      z.object({ kind: z.literal("room"), rootDir: path }),
      z.object({ kind: z.literal("vault"), folder: path, stagingDir: path }),
    ]),
  }),
]);
export type CarryRequest = z.infer<typeof carryRequestSchema>;

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
