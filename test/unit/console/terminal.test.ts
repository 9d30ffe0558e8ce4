import { describe, expect, it } from "vitest";
import { Grid } from "../../../console/grid.ts";
import type { Key } from "../../../console/keymap.ts";
import { createTerminal, keyBytes, paletteColour } from "../../../console/terminal.ts";

const key = (name: Key["name"], mods: Partial<Key> = {}): Key => ({
  name,
  ctrl: false,
  alt: false,
  shift: false,
  ...mods,
});
const write = (t: ReturnType<typeof createTerminal>, text: string) =>
  new Promise<void>((done) => t.write(new TextEncoder().encode(text), done));

describe("keyBytes", () => {
  it("encodes keys as xterm does", () => {
    expect(keyBytes(key("Enter"), false)).toBe("\r");
    expect(keyBytes(key("Backspace"), false)).toBe("\u007f");
    expect(keyBytes(key("Up"), false)).toBe("\u001b[A");
    expect(keyBytes(key("Up"), true)).toBe("\u001bOA");
    expect(keyBytes(key("char", { char: "c", ctrl: true }), false)).toBe("\u0003");
    expect(keyBytes(key("char", { char: "x", alt: true }), false)).toBe("\u001bx");
    expect(keyBytes(key("char", { char: "$" }), false)).toBe("$");
  });

  it("maps the 256 xterm colours", () => {
    expect(paletteColour(196)).toBe(0xff0000);
    expect(paletteColour(232)).toBe(0x080808);
  });
});

describe("createTerminal", () => {
  it("draws the room's screen under the trust line and never on it, whatever the room sends", async () => {
    const replies: string[] = [];
    const t = createTerminal({ cols: 20, rows: 3 }, (r) => replies.push(r));
    await write(
      t,
      "\u001b[2J\u001b[H\u001b[1;1rtop\r\n\u001b]0;pwned title\u0007\u001b]52;c;aGVsbG8=\u0007second\u001b[6n",
    );
    const grid = new Grid(20, 4);
    grid.put(0, 0, "TRUST", 1, 2);
    t.draw(grid);
    expect(grid.rowText(0)).toBe(`TRUST${" ".repeat(15)}`);
    expect(grid.rowText(1).trimEnd()).toBe("top");
    expect(grid.rowText(2).trimEnd()).toBe("second");
    // A cursor-position request is answered to the room, and nothing else leaves the emulator.
    expect(replies).toEqual(["\u001b[2;7R"]);
    t.dispose();
  });
});
