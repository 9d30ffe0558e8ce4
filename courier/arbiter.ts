/**
 * The arbiter's decisions, pure: which destinations a transfer may have,
 * what the person is shown, and what their answer means. The sending room
 * chooses nothing but the file; the person picks where it goes, and Esc, the
 * timeout or a queue too long are a denial.
 */
import type { RoomPlan } from "../rooms/plan.ts";

export const PROMPT_TIMEOUT_MS = 30_000;
/** Transfers waiting behind the one being decided or copied; more are refused at once. */
export const QUEUE_LIMIT = 4;

/** A running room's /inbox, or the sender's own vault folder (the room is the sender then). */
export type Destination = { kind: "room" | "vault"; room: RoomPlan };
export type Transfer = { from: string; name: string; size: number; sha256: string };
export type Decision =
  | { approved: true; to: Destination }
  | { approved: false; by: "human" | "timeout" | "policy"; reason: string; stopSender?: true };

/**
 * Rooms that accept deliveries and are running, the sender excepted, in a
 * fixed order; then the sender's vault folder, when it has one and the
 * vault is open.
 */
export function destinations(sender: RoomPlan, running: readonly RoomPlan[], vaultOpen: boolean): Destination[] {
  const rooms = running
    .filter((room) => room.id !== sender.id && room.policy.courier.deliveries)
    .sort((a, b) => a.id.localeCompare(b.id))
    .map((room): Destination => ({ kind: "room", room }));
  return sender.policy.vault !== undefined && vaultOpen ? [...rooms, { kind: "vault", room: sender }] : rooms;
}

const sizeText = (bytes: number): string =>
  bytes < 1024
    ? `${bytes} bytes`
    : `${bytes} bytes (${(bytes / 1024 ** (bytes < 1024 ** 2 ? 1 : 2)).toFixed(1)} ${bytes < 1024 ** 2 ? "KiB" : "MiB"})`;

export const destinationLabel = (to: Destination): string =>
  to.kind === "vault" ? `the vault (${to.room.id}: /vault)` : `${to.room.id}: /inbox`;

/**
 * The trusted prompt: who sends what (name, size, full hash), then "Deny"
 * first, each destination, and last a denial that also stops the sending
 * room. Ctrl-Alt-Esc dismisses it as a denial: it is the room's request,
 * never bay0's own question.
 */
export function transferPrompt(transfer: Transfer, to: readonly Destination[]) {
  return {
    kind: "choice" as const,
    title: `Courier: ${transfer.from} sends a file`,
    lines: [
      `from:   ${transfer.from}`,
      `file:   ${transfer.name}`,
      `size:   ${sizeText(transfer.size)}`,
      `sha256: ${transfer.sha256.slice(0, 32)}`,
      `        ${transfer.sha256.slice(32)}`,
    ],
    choices: ["Deny", ...to.map((d) => `Deliver to ${destinationLabel(d)}`), `Deny and stop ${transfer.from}`],
    timeoutMs: PROMPT_TIMEOUT_MS,
    dismissable: true as const,
  };
}

/** What the person's answer decides: the destination they picked, or a denial and by whom. */
export function decide(answer: { index: number; timedOut: boolean }, to: readonly Destination[]): Decision {
  if (answer.timedOut)
    return { approved: false, by: "timeout", reason: `nobody answered within ${PROMPT_TIMEOUT_MS / 1000} s` };
  if (answer.index === to.length + 1)
    return { approved: false, by: "human", reason: "denied at the console, and the room is stopped", stopSender: true };
  const picked = answer.index > 0 ? to[answer.index - 1] : undefined;
  return picked === undefined
    ? { approved: false, by: "human", reason: "denied at the console" }
    : { approved: true, to: picked };
}
