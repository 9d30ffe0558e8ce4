import type { Key } from "./keymap.ts";

/** One line of the launcher: a running room (by id) or a policy that can start. */
export type Entry = { name: string; running: boolean; frozen: boolean };

export type LauncherState = {
  filter: string;
  /**
   * The selected entry by its name, never by its row: rooms starting and
   * ending reorder the rows, and a key must act on the room the person
   * chose. Null: the first entry shown.
   */
  selected: string | null;
  /** Room id awaiting a y/n answer before it is killed. */
  confirmKill: string | null;
  /** One line for the person: a refusal's reason, a question. */
  message: string | null;
};

export type Command =
  | { kind: "start"; name: string }
  | { kind: "focus"; id: string }
  | { kind: "reset"; id: string }
  | { kind: "kill"; id: string }
  | { kind: "freeze"; id: string; frozen: boolean }
  | { kind: "lock-vault" }
  | { kind: "recovery-key" };

export const INITIAL_LAUNCHER: LauncherState = Object.freeze({
  filter: "",
  selected: null,
  confirmKill: null,
  message: null,
});

const FILTER_CHARS = /^[a-z0-9/-]$/;
const MAX_FILTER = 31;

/** The entries the filter lets through, in list order. */
export function visibleEntries(state: LauncherState, entries: readonly Entry[]): Entry[] {
  return entries.filter((e) => e.name.includes(state.filter));
}

/** The row of the selected entry among those shown; -1 when it is gone (no row is selected then). */
export function selectedIndex(state: LauncherState, shown: readonly Entry[]): number {
  if (state.selected === null) return shown.length > 0 ? 0 : -1;
  return shown.findIndex((e) => e.name === state.selected);
}

/**
 * The launcher's keys: letters filter (Backspace edits, Esc clears), Up/Down
 * move, Enter starts the selected policy (or focuses a running room),
 * Ctrl-R resets, Ctrl-K kills after a y/n confirmation, Ctrl-F freezes or
 * thaws; Ctrl-L locks the vault (bay0 asks first); Ctrl-N replaces the
 * vault's recovery key (bay0 asks for the PIN). Pure: returns the next
 * state and what bay0 should do.
 */
export function launcherKey(
  state: LauncherState,
  key: Key,
  entries: readonly Entry[],
): { state: LauncherState; command?: Command } {
  const shown = visibleEntries(state, entries);
  const at = selectedIndex(state, shown);
  const selected = shown[at];
  const select = (index: number): LauncherState => ({
    ...state,
    selected: shown[Math.max(0, Math.min(index, shown.length - 1))]?.name ?? null,
  });
  if (state.confirmKill !== null) {
    const id = state.confirmKill;
    const next = { ...state, confirmKill: null, message: null };
    return key.name === "char" && key.char === "y" && !key.ctrl
      ? { state: next, command: { kind: "kill", id } }
      : { state: next };
  }
  if (key.ctrl && key.name === "char") {
    if (key.char === "l") return { state: { ...state, message: null }, command: { kind: "lock-vault" } };
    if (key.char === "n") return { state: { ...state, message: null }, command: { kind: "recovery-key" } };
    if (selected === undefined) return { state };
    if (!selected.running) return { state: { ...state, message: `${selected.name} is not running` } };
    if (key.char === "r") return { state: { ...state, message: null }, command: { kind: "reset", id: selected.name } };
    if (key.char === "f")
      return {
        state: { ...state, message: null },
        command: { kind: "freeze", id: selected.name, frozen: !selected.frozen },
      };
    if (key.char === "k")
      return { state: { ...state, confirmKill: selected.name, message: `Kill ${selected.name}? y/n` } };
    return { state };
  }
  switch (key.name) {
    case "char":
      if (key.alt || key.char === undefined || !FILTER_CHARS.test(key.char) || state.filter.length >= MAX_FILTER)
        return { state };
      return { state: { ...state, filter: state.filter + key.char, selected: null, message: null } };
    case "Backspace":
      return { state: { ...state, filter: state.filter.slice(0, -1), selected: null, message: null } };
    case "Esc":
      return { state: { ...INITIAL_LAUNCHER } };
    case "Up":
      return { state: select(at - 1) };
    case "Down":
      return { state: select(at + 1) };
    case "Enter":
      if (selected === undefined)
        return {
          state: { ...state, message: shown.length === 0 ? "nothing matches" : `${state.selected ?? "it"} is gone` },
        };
      return {
        state: { ...state, message: null },
        command: selected.running ? { kind: "focus", id: selected.name } : { kind: "start", name: selected.name },
      };
    default:
      return { state };
  }
}
