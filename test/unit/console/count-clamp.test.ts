import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createCountClamp } from "../../../console/count-clamp.ts";
import { Grid } from "../../../console/grid.ts";
import { createTerminal } from "../../../console/terminal.ts";

const screen = { cols: 80, rows: 24 };
const clamp = (...chunks: string[]): string => {
  const c = createCountClamp(screen);
  return chunks.map(c).join("");
};

describe("createCountClamp", () => {
  it("clamps the counts of scrolls, inserts, deletes, tabs and moves to the screen, and REP to its cells", () => {
    expect(clamp("\u001b[2147483647S")).toBe("\u001b[80S");
    expect(clamp("\u001b[99999T\u001b[99999L\u001b[99999M\u001b[99999I\u001b[99999Z")).toBe(
      "\u001b[80T\u001b[80L\u001b[80M\u001b[80I\u001b[80Z",
    );
    expect(clamp("x\u001b[2147483647b")).toBe("x\u001b[1920b");
    expect(clamp("\u001b[99999 @\u001b[5;99999A")).toBe("\u001b[80 @\u001b[5;80A");
    expect(clamp("\u009b4294967295S")).toBe("\u009b80S");
  });

  it("leaves what is in bounds, private sequences, modes and colours as they are", () => {
    const same = [
      "\u001b[3S",
      "\u001b[?1049h",
      "\u001b[?2004h",
      "\u001b[38;2;255;128;0m",
      "\u001b[24;80H",
      "\u001b]0;title 99999S\u0007",
      "\u001b(B",
      "plain 2147483647 text",
    ];
    for (const text of same) expect(clamp(text)).toBe(text);
  });

  it("holds a sequence split across chunks until its final byte, and lets the controls inside it run", () => {
    expect(clamp("ab\u001b", "[21474", "83647", "S")).toBe("ab\u001b[80S");
    expect(clamp("\u001b[999\r99S")).toBe("\u001b[\r80S");
  });

  it("cannot be slipped past by leading zeros, DEL, sub-parameters or an endless parameter list", () => {
    expect(clamp(`\u001b[${"0".repeat(40)}2147483647S`)).toBe("\u001b[80S");
    expect(clamp("\u001b[2147\u007f483647S")).toBe("\u001b[80S");
    expect(clamp("\u001b[1:2147483647S")).toBe("\u001b[1:80S");
    // Over 64 parameter bytes: the emulator is told to cancel (CAN) and the rest is dropped up to the final.
    expect(clamp(`\u001b[${"0".repeat(200)}2147483647Safter`)).toBe("\u001b[\u0018after");
  });

  it("ends a sequence where the emulator does: ESC, CAN, SUB and a new CSI", () => {
    expect(clamp("\u001b[99\u001b[99999S")).toBe("\u001b[99\u001b[80S");
    expect(clamp("\u001b[99\u0018x")).toBe("\u001b[99\u0018x");
    expect(clamp("\u001b[99\u009b99999S")).toBe("\u001b[99\u009b80S");
    expect(clamp("\u001b\u009b99999S")).toBe("\u001b\u009b80S");
    expect(clamp("\u001b\r\u007f[99999S")).toBe("\u001b\r\u007f[80S");
  });

  it("never lets a count past the screen's cells, whatever text and however it is cut", () => {
    const piece = fc.oneof(
      fc.constantFrom("\u001b", "[", "\u009b", ";", ":", "?", " ", "(", "\u007f", "\u0018", "S", "b", "m", "x", "\r"),
      fc.nat().map(String),
      fc.constant("4294967295"),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 40 }), fc.nat({ max: 40 }), (pieces, cut) => {
        const text = pieces.join("");
        const out = clamp(text.slice(0, cut), text.slice(cut));
        // Every CSI with a count-taking final that comes out has counts within the screen.
        for (const m of out.matchAll(/(?:\u001b\[|\u009b)([\d;:]*)[ ]?[@ABCDEFGILMPSTXZ^`adeb]/g)) {
          for (const n of (m[1] ?? "").match(/\d+/g) ?? [])
            expect(Number(n)).toBeLessThanOrEqual(screen.cols * screen.rows);
        }
      }),
      { numRuns: 3_000 },
    );
  });
});

/**
 * Through the room's terminal as bay0 runs it: before the clamp each of
 * these took the emulator 2^31 steps or an 8 GiB allocation, synchronously;
 * the test's timeout is the bound.
 */
describe("a room terminal fed hostile counts", () => {
  it(
    "takes every count-taking sequence at the 32-bit limit at once and keeps drawing",
    { timeout: 20_000 },
    async () => {
      const t = createTerminal({ cols: 80, rows: 24 }, () => undefined);
      const hostile = ["S", "T", "L", "M", "I", "Z", "b", "@", "P", "X", " @", " A", "'}", "'~"]
        .map((f) => `x\u001b[2147483647${f}`)
        .join("");
      await new Promise<void>((done) => t.write(new TextEncoder().encode(`${hostile}\u001b[2J\u001b[Halive`), done));
      const grid = new Grid(80, 25);
      t.draw(grid);
      expect(grid.rowText(1).trimEnd()).toBe("alive");
      t.dispose();
    },
  );
});
