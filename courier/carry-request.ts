/**
 * What bay0 asks of a transfer's carrier (courier/carry-protocol.ts has the
 * rest): the carrier parses it with this schema; bay0 only types its
 * requests with it (a type-only import, so none of this is in PID 1).
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
