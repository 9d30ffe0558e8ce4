/**
 * What the update helper (update/run.ts) tells bay0, one JSON line on its
 * stdout between its update.* records: a prompt for bay0 to show (answered
 * `{answer}` on its stdin, vault/dialog.ts `talkToBay0`), then how it ended.
 */
import { z } from "zod";
import { promptRequestSchema } from "../console/protocol.ts";

export const fromUpdateHelperSchema = z.union([
  z.object({ prompt: promptRequestSchema }).strict(),
  z.object({ done: z.enum(["installed", "blessed", "none"]) }).strict(),
]);
export type FromUpdateHelper = z.infer<typeof fromUpdateHelperSchema>;

/** How the helper is started: `offer SLOT console|headless` (look for an update and install it), or `bless`. */
export type UpdateMode = { mode: "offer"; slot: "a" | "b"; console: boolean } | { mode: "bless" };

export function parseUpdateArgs(args: string[]): UpdateMode | null {
  const [mode, slot, screen] = args;
  if (mode === "bless" && args.length === 1) return { mode };
  if (mode === "offer" && (slot === "a" || slot === "b") && (screen === "console" || screen === "headless"))
    return { mode, slot, console: screen === "console" };
  return null;
}
