import { describe, expect, it } from "vitest";
import { Grid } from "../../../console/grid.ts";
import type { Key } from "../../../console/keymap.ts";
import { ARMING_MS, drawPrompt, openPrompt as openAt, promptKey, type PromptState } from "../../../console/prompt.ts";
import type { PromptRequest } from "../../../console/protocol.ts";

const char = (c: string): Key => ({ name: "char", char: c, ctrl: false, alt: false, shift: false });
const named = (name: Key["name"]): Key => ({ name, ctrl: false, alt: false, shift: false });
const secret: PromptRequest = { kind: "secret", title: "Unlock the vault", label: "PIN", minLength: 4, maxLength: 8 };
const choice: PromptRequest = {
  kind: "choice",
  title: "Send report.pdf?",
  lines: ["from web"],
  choices: ["Deny", "To work", "To the vault"],
  timeoutMs: 30_000,
};

/** A prompt drawn at time 0; keys come once it is armed unless `atMs` says otherwise. */
const openPrompt = (request: PromptRequest): PromptState => openAt(request, 0);

function press(state: PromptState, keys: Key[], atMs = ARMING_MS) {
  let s = state;
  for (const key of keys) {
    const next = promptKey(s, key, atMs);
    s = next.state;
    if (next.answer) return { state: s, answer: next.answer };
  }
  return { state: s, answer: undefined };
}

describe("secret prompts", () => {
  it("take typed characters, edit with Backspace, insist on the minimum length, answer on Enter", () => {
    const short = press(openPrompt(secret), [char("1"), char("2"), char("3"), named("Enter")]);
    expect(short.answer).toBeUndefined();
    expect(short.state.note).toBe("at least 4 characters");
    expect(press(short.state, [char("9"), named("Backspace"), char("4"), named("Enter")]).answer).toEqual({
      kind: "secret",
      value: "1234",
    });
    expect(press(openPrompt(secret), [char("1"), named("Esc")]).answer).toEqual({ kind: "secret", value: null });
  });

  it("show a dot per character and never the characters", () => {
    const { state } = press(openPrompt(secret), [char("4"), char("7"), char("1"), char("1")]);
    const grid = new Grid(80, 25);
    drawPrompt(grid, state, null, true);
    const text = [...Array(25).keys()].map((r) => grid.rowText(r)).join("\n");
    expect(text).toContain("PIN: \u2022\u2022\u2022\u2022_");
    expect(text).not.toMatch(/4711|4|7/);
  });

  it("show the count of a secret too long for its dots, and the dots that fit", () => {
    const key = { kind: "secret" as const, title: "Vault", label: "Recovery key", minLength: 8, maxLength: 80 };
    const typed = press(
      openPrompt(key),
      [...Array(71).keys()].map(() => char("a")),
    ).state;
    const grid = new Grid(80, 25);
    drawPrompt(grid, typed, null, true);
    const line = [...Array(25).keys()].map((r) => grid.rowText(r)).find((l) => l.includes("Recovery key:")) ?? "";
    expect(line.trim()).toBe(`Recovery key: (71) ${"\u2022".repeat(36)}_`);
    expect(line).not.toContain("a");
    const fitting = press(
      openPrompt(key),
      [...Array(41).keys()].map(() => char("a")),
    ).state;
    drawPrompt(grid, fitting, null, true);
    expect([...Array(25).keys()].map((r) => grid.rowText(r)).join("\n")).toContain(
      `Recovery key: ${"\u2022".repeat(41)}_`,
    );
  });
});

describe("choice prompts", () => {
  it("default to the first choice (deny) on Esc, and move the selection with the arrows", () => {
    expect(press(openPrompt(choice), [named("Down"), named("Esc")]).answer).toEqual({
      kind: "choice",
      index: 0,
      timedOut: false,
    });
    expect(
      press(openPrompt(choice), [named("Down"), named("Down"), named("Down"), named("Up"), named("Enter")]).answer,
    ).toEqual({ kind: "choice", index: 1, timedOut: false });
  });

  it("show the choices, the selection and the time left", () => {
    const grid = new Grid(80, 25);
    drawPrompt(grid, openPrompt(choice), 12, true);
    const text = [...Array(25).keys()].map((r) => grid.rowText(r)).join("\n");
    expect(text).toContain("> Deny");
    expect(text).toContain('Esc for "Deny" (12 s)');
  });
});

describe("confirmations", () => {
  const confirm: PromptRequest = {
    kind: "confirm",
    title: "Vault: your recovery key",
    lines: ["abcdefgh-abcdefgh"],
    choice: "I have written it down",
  };

  it("end only on Enter: Esc, letters and arrows do nothing", () => {
    expect(press(openPrompt(confirm), [named("Esc"), named("Down"), char("y"), named("Tab")]).answer).toBeUndefined();
    expect(press(openPrompt(confirm), [named("Esc"), named("Enter")]).answer).toEqual({ kind: "confirm" });
  });

  it("show their one choice and no way out but Enter", () => {
    const grid = new Grid(80, 25);
    drawPrompt(grid, openPrompt(confirm), null, true);
    const text = [...Array(25).keys()].map((r) => grid.rowText(r)).join("\n");
    expect(text).toContain("> I have written it down");
    expect(text).toContain("Enter to confirm");
    expect(text).not.toContain("Esc");
  });
});

describe("a prompt that keys typed before it cannot answer", () => {
  it("ignores every key until it is armed, then takes them", () => {
    const early = press(openPrompt(choice), [named("Down"), named("Enter")], ARMING_MS - 1);
    expect(early.answer).toBeUndefined();
    expect(early.state.selected).toBe(0);
    expect(
      press(openPrompt(secret), [char("1"), char("2"), char("3"), char("4"), named("Enter")], ARMING_MS - 1).answer,
    ).toBeUndefined();
    expect(press(openPrompt(choice), [named("Down"), named("Enter")], ARMING_MS).answer).toEqual({
      kind: "choice",
      index: 1,
      timedOut: false,
    });
  });

  it("takes no held key's repeats, and Tab does not move the choice", () => {
    const repeated = (k: Key): Key => ({ ...k, repeat: true });
    expect(press(openPrompt(choice), [named("Tab"), named("Enter")]).answer).toEqual({
      kind: "choice",
      index: 0,
      timedOut: false,
    });
    expect(press(openPrompt(choice), [repeated(named("Down")), repeated(named("Enter"))]).answer).toBeUndefined();
    expect(press(openPrompt(secret), [repeated(char("7"))]).state.typed).toBe("");
  });

  it("says so while it waits, and says which keys answer once armed", () => {
    const grid = new Grid(80, 25);
    drawPrompt(grid, openPrompt(choice), 30, false);
    const waiting = [...Array(25).keys()].map((r) => grid.rowText(r)).join("\n");
    expect(waiting).toContain("(keys count in a moment)");
    expect(waiting).not.toContain("Enter to choose");
  });
});
