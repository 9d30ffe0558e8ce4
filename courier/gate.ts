/**
 * Who may ask the person now, pure: one transfer per room at a time, at
 * most QUEUE_LIMIT waiting behind the one being decided, and after each
 * denial a cool-down for that room that doubles (5 s, 10 s, 20 s, up to
 * 5 min) until the person approves one of its files. A room cannot keep a
 * prompt on the screen for ever, nor time one to the person's typing by
 * asking again and again.
 */
import { QUEUE_LIMIT } from "./arbiter.ts";

export const COOLDOWN_FIRST_MS = 5_000;
export const COOLDOWN_MAX_MS = 300_000;

export type Outcome = "approved" | "denied" | "refused";

export function createCourierGate(nowMs: () => number) {
  const pending = new Set<string>();
  const cooldowns = new Map<string, { untilMs: number; lastMs: number }>();
  return {
    /** Takes a place for `room`'s transfer, or says why it is refused at once. */
    admit(room: string): string | null {
      if (pending.has(room)) return `a transfer of ${room} is already waiting; one at a time`;
      if (pending.size >= QUEUE_LIMIT + 1) return `${QUEUE_LIMIT} transfers are already waiting`;
      const cooling = cooldowns.get(room);
      const left = cooling === undefined ? 0 : cooling.untilMs - nowMs();
      if (left > 0) return `the person denied ${room}'s last transfer; ask again in ${Math.ceil(left / 1000)} s`;
      pending.add(room);
      return null;
    },
    /** Frees `room`'s place; a denial by the person (or nobody answering) starts or doubles its cool-down, an approval ends it. */
    settle(room: string, outcome: Outcome): void {
      pending.delete(room);
      if (outcome === "approved") cooldowns.delete(room);
      if (outcome !== "denied") return;
      const lastMs = Math.min(COOLDOWN_MAX_MS, (cooldowns.get(room)?.lastMs ?? COOLDOWN_FIRST_MS / 2) * 2);
      cooldowns.set(room, { untilMs: nowMs() + lastMs, lastMs });
    },
  };
}
