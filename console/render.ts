import { glyphFor, type Font } from "./font.ts";
import type { Grid, Span } from "./grid.ts";

/**
 * The pixels of one span of cells, row-major, `span.cols * font.width` wide
 * and `font.height` tall, as 0x00RRGGBB (the XRGB8888 framebuffer format).
 */
export function renderSpan(font: Font, grid: Grid, span: Span): Uint32Array {
  const width = span.cols * font.width;
  const pixels = new Uint32Array(width * font.height);
  for (let c = 0; c < span.cols; c++) {
    const i = span.row * grid.cols + span.col + c;
    const glyph = glyphFor(font, grid.ch[i] ?? 0x20);
    const fg = grid.fg[i] ?? 0;
    const bg = grid.bg[i] ?? 0;
    for (let y = 0; y < font.height; y++) {
      const line = y * width + c * font.width;
      for (let x = 0; x < font.width; x++) {
        const on = ((glyph[y * font.rowBytes + (x >> 3)] ?? 0) >> (7 - (x & 7))) & 1;
        pixels[line + x] = on ? fg : bg;
      }
    }
  }
  return pixels;
}
