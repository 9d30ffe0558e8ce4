import { COLOURS } from "./dashboard.ts";
import type { Grid } from "./grid.ts";
import type { Key } from "./keymap.ts";
import type { PromptAnswer, PromptRequest } from "./protocol.ts";

export type PromptState = {
  request: PromptRequest;
  typed: string;
  selected: number;
  note: string | null;
  armedAtMs: number;
};

/**
 * How long a prompt ignores every key after it is drawn: keys already on
 * their way (typed into a room's terminal as the prompt popped up, perhaps
 * when the room chose to ask) must not answer it.
 */
export const ARMING_MS = 750;

export const openPrompt = (request: PromptRequest, nowMs: number): PromptState => ({
  request,
  typed: "",
  selected: 0,
  note: null,
  armedAtMs: nowMs + ARMING_MS,
});

export const isArmed = (state: PromptState, nowMs: number): boolean => nowMs >= state.armedAtMs;

/**
 * One key for the open prompt: the next state, and the answer once there is
 * one. Before the prompt is armed, and for a held key's repeats, nothing.
 * Only the arrow keys move between choices (Tab, which terminals use all the
 * time, does not), and Enter answers with the marked one.
 */
export function promptKey(state: PromptState, key: Key, nowMs: number): { state: PromptState; answer?: PromptAnswer } {
  const { request } = state;
  if (!isArmed(state, nowMs) || key.repeat) return { state };
  if (request.kind === "secret") {
    if (key.name === "Esc") return { state, answer: { kind: "secret", value: null } };
    if (key.name === "Backspace") return { state: { ...state, typed: state.typed.slice(0, -1), note: null } };
    if (key.name === "Enter") {
      if (state.typed.length < request.minLength)
        return { state: { ...state, note: `at least ${request.minLength} characters` } };
      return { state, answer: { kind: "secret", value: state.typed } };
    }
    if (
      key.name === "char" &&
      key.char !== undefined &&
      !key.ctrl &&
      !key.alt &&
      state.typed.length < request.maxLength
    ) {
      return { state: { ...state, typed: state.typed + key.char, note: null } };
    }
    return { state };
  }
  if (request.kind === "confirm") return key.name === "Enter" ? { state, answer: { kind: "confirm" } } : { state };
  const last = request.choices.length - 1;
  if (key.name === "Esc") return { state, answer: { kind: "choice", index: 0, timedOut: false } };
  if (key.name === "Up" || key.name === "Left")
    return { state: { ...state, selected: Math.max(0, state.selected - 1) } };
  if (key.name === "Down" || key.name === "Right")
    return { state: { ...state, selected: Math.min(last, state.selected + 1) } };
  if (key.name === "Enter") return { state, answer: { kind: "choice", index: state.selected, timedOut: false } };
  return { state };
}

/** One dot per character typed; past what fits (a 71-character recovery key), the count and the last dots. */
function secretLine(label: string, typed: number, width: number): string {
  const fits = width - label.length - 3;
  if (typed <= fits) return `${label}: ${"\u2022".repeat(typed)}_`;
  const count = `(${typed}) `;
  return `${label}: ${count}${"\u2022".repeat(fits - count.length)}_`;
}

/** Draws the prompt as a box over the screen below the trust line; a secret shows one dot per character typed. */
export function drawPrompt(grid: Grid, state: PromptState, secondsLeft: number | null, armed: boolean): void {
  const { request } = state;
  const hint = armed ? null : "(keys count in a moment)";
  const width = Math.min(grid.cols - 4, 60);
  const left = Math.floor((grid.cols - width) / 2);
  const body =
    request.kind === "secret"
      ? [
          secretLine(request.label, state.typed.length, width - 4),
          state.note ?? "",
          hint ?? "Enter to confirm, Esc to cancel",
        ]
      : request.kind === "confirm"
        ? [...request.lines, "", `> ${request.choice}`, "", hint ?? "Enter to confirm"]
        : [
            ...request.lines,
            "",
            ...request.choices.map((c, i) => `${i === state.selected ? ">" : " "} ${c}`),
            "",
            hint ??
              `Enter to choose, Esc for "${request.choices[0] ?? ""}"${secondsLeft === null ? "" : ` (${secondsLeft} s)`}`,
          ];
  const top = Math.max(2, Math.floor((grid.rows - body.length - 4) / 2));
  const bg = COLOURS.trustBackground;
  for (let r = top; r < top + body.length + 4 && r < grid.rows; r++)
    grid.put(r, left, " ".repeat(width), COLOURS.text, bg);
  grid.put(top + 1, left + 2, request.title.slice(0, width - 4), COLOURS.anchor, bg);
  body.forEach((line, i) =>
    grid.put(top + 3 + i, left + 2, line.slice(0, width - 4), i === body.length - 1 ? COLOURS.dim : COLOURS.text, bg),
  );
}
