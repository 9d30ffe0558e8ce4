import { describe, expect, it } from "vitest";
import type { Key } from "../../../console/keymap.ts";
import {
  INITIAL_LAUNCHER,
  launcherKey,
  selectedIndex,
  visibleEntries,
  type Entry,
  type LauncherState,
} from "../../../console/launcher.ts";

const entries: Entry[] = [
  { name: "shell", running: false, frozen: false },
  { name: "web", running: true, frozen: false },
  { name: "work", running: true, frozen: true },
  { name: "workshop", running: false, frozen: false },
];
const char = (c: string, mods: Partial<Key> = {}): Key => ({
  name: "char",
  char: c,
  ctrl: false,
  alt: false,
  shift: false,
  ...mods,
});
const named = (name: Key["name"]): Key => ({ name, ctrl: false, alt: false, shift: false });

function type(keys: Key[], from: LauncherState = INITIAL_LAUNCHER) {
  let state = from;
  const commands = [];
  for (const key of keys) {
    const next = launcherKey(state, key, entries);
    state = next.state;
    if (next.command) commands.push(next.command);
  }
  return { state, commands };
}

describe("launcherKey", () => {
  it("filters by typed letters, Backspace edits, Esc clears", () => {
    const { state } = type([char("w"), char("o")]);
    expect(visibleEntries(state, entries).map((e) => e.name)).toEqual(["work", "workshop"]);
    expect(type([named("Backspace")], state).state.filter).toBe("w");
    expect(type([named("Esc")], state).state).toEqual(INITIAL_LAUNCHER);
  });

  it("starts the selected policy with Enter, or focuses a running room", () => {
    expect(type([char("s"), char("h"), named("Enter")]).commands).toEqual([{ kind: "start", name: "shell" }]);
    expect(type([named("Down"), named("Enter")]).commands).toEqual([{ kind: "focus", id: "web" }]);
    // Down stops at the last entry; Up from there selects the one before it.
    expect(
      type([named("Down"), named("Down"), named("Down"), named("Down"), named("Down"), named("Up"), named("Enter")])
        .commands,
    ).toEqual([{ kind: "focus", id: "work" }]);
  });

  it("kills only after y, resets and freezes or thaws the selected running room", () => {
    const asked = type([char("w"), char("e"), char("k", { ctrl: true })]);
    expect(asked.state.message).toBe("Kill web? y/n");
    expect(asked.commands).toEqual([]);
    expect(type([char("y")], asked.state).commands).toEqual([{ kind: "kill", id: "web" }]);
    expect(type([char("n")], asked.state)).toEqual({
      state: { ...asked.state, confirmKill: null, message: null },
      commands: [],
    });
    expect(type([char("w"), char("e"), char("r", { ctrl: true })]).commands).toEqual([{ kind: "reset", id: "web" }]);
    expect(type([char("w"), char("o"), char("f", { ctrl: true })]).commands).toEqual([
      { kind: "freeze", id: "work", frozen: false },
    ]);
    expect(type([char("s"), char("k", { ctrl: true })]).state.message).toBe("shell is not running");
  });

  it("asks for the vault's lock or a new recovery key whatever is selected", () => {
    expect(type([char("l", { ctrl: true })]).commands).toEqual([{ kind: "lock-vault" }]);
    expect(type([char("z"), char("n", { ctrl: true })]).commands).toEqual([{ kind: "recovery-key" }]);
  });

  it("keeps the selection on the room the person chose when rooms start or end and the rows move", () => {
    const chosen = type([named("Down"), named("Down")]).state;
    expect(chosen.selected).toBe("work");
    // A child of web appears above work, and shell goes: the same keys act on work, wherever its row is now.
    const moved: Entry[] = [
      { name: "web", running: true, frozen: false },
      { name: "web/kid", running: true, frozen: false },
      { name: "work", running: true, frozen: true },
    ];
    expect(launcherKey(chosen, char("r", { ctrl: true }), moved).command).toEqual({ kind: "reset", id: "work" });
    expect(launcherKey(chosen, char("k", { ctrl: true }), moved).state.message).toBe("Kill work? y/n");
    // Gone: nothing is selected, and no key acts on whatever took its row.
    const gone = entries.filter((e) => e.name !== "work");
    expect(selectedIndex(chosen, gone)).toBe(-1);
    expect(launcherKey(chosen, char("r", { ctrl: true }), gone).command).toBeUndefined();
    expect(launcherKey(chosen, named("Enter"), gone)).toEqual({ state: { ...chosen, message: "work is gone" } });
    expect(launcherKey(chosen, named("Down"), gone).state.selected).toBe("shell");
  });

  it("ignores what cannot be part of a room name", () => {
    expect(type([char("$"), char("A"), char(" ")]).state.filter).toBe("");
  });
});
