/**
 * bay0 and the room builder (rooms/builder.ts), one JSON line each way: bay0
 * asks for a room's root, cgroup and bundle to be made (or taken away), the
 * builder answers each request by its id, with null or why not.
 */
import { z } from "zod";
import type { Policy } from "../policies/schema.ts";

/** The room is the one planRoom(policy, parent) makes: the builder plans it again from the same inputs. */
export type BuilderRequest = {
  id: number;
  do: "prepare" | "teardown";
  room: string;
  policy: Policy;
  parent: { id: string; depth: number } | null;
};

/** The longest reason the builder gives. */
export const ERROR_MAX = 2000;

export const builderReplySchema = z.object({
  id: z.number().int(),
  error: z.string().max(ERROR_MAX).nullable(),
});
export type BuilderReply = z.infer<typeof builderReplySchema>;
