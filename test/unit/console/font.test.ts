import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { FontError, glyphFor, parsePsf2 } from "../../../console/font.ts";

const SPLEEN = "/usr/share/consolefonts/spleen-16x32.psfu.gz";

describe("parsePsf2", () => {
  const font = parsePsf2(gunzipSync(readFileSync(SPLEEN)));

  it("reads Debian's spleen 16x32: geometry, glyphs and the Unicode table", () => {
    expect([font.width, font.height, font.rowBytes, font.glyphs.length]).toEqual([16, 32, 2, 512]);
    expect(font.map.get(0x41)).toBe(0x41);
    expect(font.map.has(0x2588)).toBe(true);
  });

  it("draws 'A' with its crossbar, and falls back to '?' for what the font lacks", () => {
    const a = glyphFor(font, 0x41);
    const row = (y: number): string =>
      [...Array(16).keys()].map((x) => (((a[y * 2 + (x >> 3)] ?? 0) >> (7 - (x & 7))) & 1 ? "#" : ".")).join("");
    expect(row(15)).toBe("..############..");
    expect(glyphFor(font, 0x10ffff)).toEqual(glyphFor(font, 0x3f));
  });

  it("refuses what is not a PSF2 font, and geometry that does not add up", () => {
    expect(() => parsePsf2(new Uint8Array(64))).toThrow(FontError);
    const bad = new Uint8Array(gunzipSync(readFileSync(SPLEEN)));
    new DataView(bad.buffer).setUint32(20, 7, true);
    expect(() => parsePsf2(bad)).toThrow(/implausible/);
  });
});
