import { describe, expect, it } from "vitest";
import { createKeyboard } from "../../../console/keymap.ts";

const K = { A: 30, ONE: 2, SHIFT: 42, CTRL: 29, ALT: 56, CAPS: 58, DEL: 111, ESC: 1, ENTER: 28, UP: 103, K: 37 };

describe("createKeyboard (US layout)", () => {
  it("types letters and symbols with Shift, letters only with Caps Lock", () => {
    const kb = createKeyboard();
    expect(kb.feed(K.A, 1)).toMatchObject({ name: "char", char: "a", shift: false });
    kb.feed(K.A, 0);
    kb.feed(K.SHIFT, 1);
    expect(kb.feed(K.ONE, 1)).toMatchObject({ char: "!", shift: true });
    expect(kb.feed(K.A, 1)).toMatchObject({ char: "A" });
    kb.feed(K.SHIFT, 0);
    kb.feed(K.CAPS, 1);
    kb.feed(K.CAPS, 0);
    expect(kb.feed(K.A, 1)).toMatchObject({ char: "A" });
    expect(kb.feed(K.ONE, 1)).toMatchObject({ char: "1" });
    kb.feed(K.SHIFT, 1);
    expect(kb.feed(K.A, 1)).toMatchObject({ char: "a" });
  });

  it("repeats a held key (value 2) and ignores releases", () => {
    const kb = createKeyboard();
    expect(kb.feed(K.A, 1)).toMatchObject({ char: "a" });
    expect(kb.feed(K.A, 2)).toMatchObject({ char: "a" });
    expect(kb.feed(K.A, 0)).toBeNull();
  });

  it("reports Ctrl with a letter, named keys, and keeps Ctrl-Alt-Del and Ctrl-Alt-Esc for bay0", () => {
    const kb = createKeyboard();
    kb.feed(K.CTRL, 1);
    expect(kb.feed(K.K, 1)).toMatchObject({ name: "char", char: "k", ctrl: true });
    kb.feed(K.ALT, 1);
    expect(kb.feed(K.DEL, 1)).toBe("ctrl-alt-del");
    expect(kb.feed(K.ESC, 1)).toBe("secure-attention");
    kb.feed(K.CTRL, 0);
    kb.feed(K.ALT, 0);
    expect(kb.feed(K.ESC, 1)).toMatchObject({ name: "Esc", ctrl: false });
    expect(kb.feed(K.UP, 1)).toMatchObject({ name: "Up" });
    expect(kb.feed(K.ENTER, 1)).toMatchObject({ name: "Enter" });
  });

  it("marks a held key's autorepeats, so a prompt can tell them from presses", () => {
    const kb = createKeyboard();
    expect(kb.feed(K.ENTER, 1)).not.toHaveProperty("repeat");
    expect(kb.feed(K.ENTER, 2)).toMatchObject({ name: "Enter", repeat: true });
    expect(kb.feed(K.K, 2)).toMatchObject({ name: "char", char: "k", repeat: true });
  });
});
