/**
 * PSF2 console fonts (the format of Debian's console fonts, e.g.
 * fonts-spleen's spleen-16x32.psfu): a header, fixed-size glyph bitmaps with
 * rows MSB-first, and a Unicode table mapping code points to glyphs.
 */
export type Font = {
  width: number;
  height: number;
  /** Bytes per glyph row: ceil(width / 8). */
  rowBytes: number;
  glyphs: Uint8Array[];
  /** Code point -> glyph index. */
  map: Map<number, number>;
};

/** Debian's fonts-spleen 16x32 (BSD-2-Clause), in the system image (uki/system-image.ts copies it). */
export const CONSOLE_FONT = "/usr/share/consolefonts/spleen-16x32.psfu.gz";

const PSF2_MAGIC = 0x864ab572;
const HAS_UNICODE_TABLE = 1;
const SEQUENCE_START = 0xfe;
const ENTRY_END = 0xff;

export class FontError extends Error {}

/** Parses a PSF2 font (already gunzipped). Throws FontError naming what is wrong. */
export function parsePsf2(bytes: Uint8Array): Font {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < 32 || view.getUint32(0, true) !== PSF2_MAGIC)
    throw new FontError("not a PSF2 font (bad magic)");
  const headerSize = view.getUint32(8, true);
  const flags = view.getUint32(12, true);
  const count = view.getUint32(16, true);
  const charSize = view.getUint32(20, true);
  const height = view.getUint32(24, true);
  const width = view.getUint32(28, true);
  const rowBytes = Math.ceil(width / 8);
  if (
    width < 1 ||
    width > 64 ||
    height < 1 ||
    height > 128 ||
    charSize !== rowBytes * height ||
    count < 1 ||
    count > 65536
  ) {
    throw new FontError(`implausible PSF2 geometry ${width}x${height}, ${count} glyphs of ${charSize} bytes`);
  }
  const tableStart = headerSize + count * charSize;
  if (tableStart > bytes.byteLength) throw new FontError("PSF2 glyphs run past the end of the file");
  const glyphs = Array.from({ length: count }, (_, i) =>
    bytes.subarray(headerSize + i * charSize, headerSize + (i + 1) * charSize),
  );
  const map = new Map<number, number>();
  if ((flags & HAS_UNICODE_TABLE) === 0) {
    for (let i = 0; i < Math.min(count, 256); i++) map.set(i, i);
  } else {
    const decoder = new TextDecoder("utf-8", { fatal: false });
    let glyph = 0;
    let entryStart = tableStart;
    for (let i = tableStart; i < bytes.byteLength && glyph < count; i++) {
      const b = bytes[i];
      if (b !== ENTRY_END && b !== SEQUENCE_START) continue;
      // Single code points before the first 0xFE belong to this glyph; sequences (after 0xFE) are ignored.
      const singles = decoder.decode(bytes.subarray(entryStart, i));
      for (const ch of singles) {
        const cp = ch.codePointAt(0);
        if (cp !== undefined && cp !== 0xfffd && !map.has(cp)) map.set(cp, glyph);
      }
      if (b === SEQUENCE_START) {
        while (i < bytes.byteLength && bytes[i] !== ENTRY_END) i++;
      }
      glyph += 1;
      entryStart = i + 1;
    }
  }
  return { width, height, rowBytes, glyphs, map };
}

/** The glyph for a code point: the font's own, else '?' (else glyph 0). */
export function glyphFor(font: Font, codePoint: number): Uint8Array {
  const index = font.map.get(codePoint) ?? font.map.get(0x3f) ?? 0;
  return font.glyphs[index] ?? (font.glyphs[0] as Uint8Array);
}
