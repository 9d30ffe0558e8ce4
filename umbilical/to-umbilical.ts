/**
 * What bay0 says to the umbilical's server (umbilical/channel.ts has the
 * rest): the server parses it with this schema; bay0 only types its
 * messages with it (a type-only import, so none of this is in PID 1).
 */
import { z } from "zod";
import { UMBILICAL_REQUESTS } from "../policies/schema.ts";
import { room, type Reply } from "./channel.ts";

/** The socket's name in a room's socket directory: the room finds it at /run/anchor/umbilical. */
export const UMBILICAL_SOCKET = "umbilical";

export const toUmbilicalSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("open"), room, dir: z.string(), allow: z.array(z.enum(UMBILICAL_REQUESTS)) }),
  z.object({ type: z.literal("close"), room }),
  z.object({
    type: z.literal("reply"),
    id: z.number().int(),
    reply: z.custom<Reply>((value) => typeof value === "object" && value !== null && "ok" in value),
  }),
]);
export type ToUmbilical = z.infer<typeof toUmbilicalSchema>;
