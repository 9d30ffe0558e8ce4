import type { Font } from "./font.ts";
import { dirtySpans, type Grid } from "./grid.ts";
import { renderSpan } from "./render.ts";

/** Where pixels go: a 32-bpp surface written by byte offset (the framebuffer, or a test buffer). */
export type Surface = { width: number; height: number; stride: number; write(offset: number, bytes: Uint8Array): void };

/** How many cells fit, and where the grid sits (centred) on the surface. */
export function layout(surface: Pick<Surface, "width" | "height">, font: Pick<Font, "width" | "height">) {
  const cols = Math.floor(surface.width / font.width);
  const rows = Math.floor(surface.height / font.height);
  return {
    cols,
    rows,
    left: Math.floor((surface.width - cols * font.width) / 2),
    top: Math.floor((surface.height - rows * font.height) / 2),
  };
}

/**
 * Paints grids onto a surface, writing only the cells that changed since the
 * last frame (the first frame paints everything). Nothing is ever cleared
 * first, so nothing flickers. Returns how many spans it wrote.
 *
 * Where a text row fills whole framebuffer lines, a span that reaches its
 * end is widened to the whole row and written as one block: Linux 6.1's
 * fbdev emulation computes an empty damage rectangle for a write of exactly
 * one line, or one ending on a line's last byte (drm_fb_helper
 * memory_range_to_clip), and such pixels would never reach the screen.
 */
export function createPainter(surface: Surface, font: Font) {
  const { cols, left, top } = layout(surface, font);
  const rowsFillLines = left === 0 && cols * font.width * 4 === surface.stride;
  let previous: Grid | null = null;
  return {
    paint(grid: Grid): number {
      const spans = dirtySpans(previous, grid);
      for (const dirty of spans) {
        const whole = rowsFillLines && dirty.col + dirty.cols === grid.cols;
        const span = whole ? { row: dirty.row, col: 0, cols: grid.cols } : dirty;
        const pixels = renderSpan(font, grid, span);
        const bytes = new Uint8Array(pixels.buffer);
        const origin = (top + span.row * font.height) * surface.stride + (left + span.col * font.width) * 4;
        if (whole) {
          surface.write(origin, bytes);
          continue;
        }
        const rowBytes = span.cols * font.width * 4;
        for (let y = 0; y < font.height; y++)
          surface.write(origin + y * surface.stride, bytes.subarray(y * rowBytes, (y + 1) * rowBytes));
      }
      previous = grid;
      return spans.length;
    },
  };
}
