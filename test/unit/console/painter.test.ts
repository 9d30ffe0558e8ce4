import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { parsePsf2 } from "../../../console/font.ts";
import { dirtySpans, Grid } from "../../../console/grid.ts";
import { createPainter, layout } from "../../../console/painter.ts";
import { renderSpan } from "../../../console/render.ts";

const font = parsePsf2(gunzipSync(readFileSync("/usr/share/consolefonts/spleen-16x32.psfu.gz")));

/** A 32-bpp surface in memory that records every write. */
function surface(width: number, height: number, padding = 64) {
  const stride = width * 4 + padding;
  const bytes = new Uint8Array(stride * height);
  const writes: { offset: number; length: number }[] = [];
  return {
    width,
    height,
    stride,
    bytes,
    writes,
    write(offset: number, data: Uint8Array) {
      bytes.set(data, offset);
      writes.push({ offset, length: data.length });
    },
    pixel(x: number, y: number): number {
      return new DataView(bytes.buffer).getUint32(y * stride + x * 4, true);
    },
  };
}

describe("Grid", () => {
  it("clips text to its row and turns control characters into '?'", () => {
    const g = new Grid(8, 2);
    g.put(0, 5, "ab\u001b[2J", 1, 2);
    expect(g.rowText(0)).toBe("     ab?");
    g.put(1, 0, "\u009b\u0007x", 1, 2);
    expect(g.rowText(1).slice(0, 3)).toBe("??x");
  });

  it("finds the changed run in each row, and everything for a first frame", () => {
    const a = new Grid(10, 3);
    const b = new Grid(10, 3);
    b.put(1, 2, "x", 0xffffff, 0);
    b.put(1, 6, "y", 0xffffff, 0);
    b.put(2, 0, " ", 0xffffff, 0x123456);
    expect(dirtySpans(a, b)).toEqual([
      { row: 1, col: 2, cols: 5 },
      { row: 2, col: 0, cols: 1 },
    ]);
    expect(dirtySpans(null, b)).toHaveLength(3);
    expect(dirtySpans(b, b)).toEqual([]);
  });
});

describe("painter", () => {
  it("fits 80x25 cells on 1280x800 and 64x24 on 1024x768", () => {
    expect(layout({ width: 1280, height: 800 }, font)).toEqual({ cols: 80, rows: 25, left: 0, top: 0 });
    expect(layout({ width: 1024, height: 768 }, font)).toEqual({ cols: 64, rows: 24, left: 0, top: 0 });
  });

  it("paints glyph pixels in the cell's colours, then rewrites only changed cells", () => {
    const s = surface(160, 64);
    const painter = createPainter(s, font);
    const first = new Grid(10, 2, 0xffffff, 0x102030);
    first.put(0, 0, "A", 0xff0000, 0x102030);
    expect(painter.paint(first)).toBe(2);
    // Row 15 of 'A' is its crossbar: pixels 2..13 on.
    expect(s.pixel(1, 15)).toBe(0x102030);
    expect(s.pixel(2, 15)).toBe(0xff0000);
    s.writes.length = 0;
    const second = new Grid(10, 2, 0xffffff, 0x102030);
    second.put(0, 0, "A", 0xff0000, 0x102030);
    second.put(1, 3, "B", 0x00ff00, 0x102030);
    expect(painter.paint(second)).toBe(1);
    // One 16-pixel run per pixel row of text row 1, at column 3: nothing else was touched.
    expect(s.writes).toHaveLength(32);
    expect(s.writes.every((w) => w.length === 64)).toBe(true);
    expect(s.writes[0]?.offset).toBe(32 * s.stride + 3 * 16 * 4);
    expect(painter.paint(second)).toBe(0);
  });

  it("writes a row that fills whole lines as one block when a change reaches its end (fbdev drops one-line damage there)", () => {
    const s = surface(160, 64, 0);
    const painter = createPainter(s, font);
    const blank = new Grid(10, 2, 0xffffff, 0);
    painter.paint(blank);
    expect(s.writes).toHaveLength(2);
    expect(s.writes[0]).toEqual({ offset: 0, length: 160 * 4 * 32 });
    s.writes.length = 0;
    const changed = new Grid(10, 2, 0xffffff, 0);
    changed.put(1, 9, "Z", 0xffffff, 0);
    changed.put(0, 2, "a", 0xffffff, 0);
    painter.paint(changed);
    // Row 0 changed in its middle: line by line. Row 1 changed at its end: the whole row in one write.
    expect(s.writes.filter((w) => w.length === 64)).toHaveLength(32);
    expect(s.writes.at(-1)).toEqual({ offset: 32 * s.stride, length: 160 * 4 * 32 });
    expect(s.writes.every((w) => (w.offset + w.length) % s.stride !== 0 || w.length > s.stride)).toBe(true);
  });

  it("renders a span exactly as its cells (what the tests read back from a screendump)", () => {
    const g = new Grid(2, 1, 0xffffff, 0);
    g.put(0, 0, "Hi", 0xabcdef, 0x010203);
    const pixels = renderSpan(font, g, { row: 0, col: 0, cols: 2 });
    expect(pixels.length).toBe(32 * 32);
    expect(new Set(pixels)).toEqual(new Set([0xabcdef, 0x010203]));
  });
});
