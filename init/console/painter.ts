import type { Font } from "./font.ts";
import { dirtySpans, type Grid } from "./grid.ts";
import { renderSpan } from "./render.ts";

/** Where pixels go: a 32-bpp surface written by byte offset (the framebuffer, or a test buffer). */
export type Surface = { width: number; height: number; stride: number; write(offset: number, bytes: Uint8Array): void };

/** How many cells fit, and where the grid sits (centred) on the surface. */
export function layout(surface: Pick<Surface, "width" | "height">, font: Pick<Font, "width" | "height">) {
  const cols = Math.floor(surface.width / font.width);
  const rows = Math.floor(surface.height / font.height);
  return { cols, rows, left: Math.floor((surface.width - cols * font.width) / 2), top: Math.floor((surface.height - rows * font.height) / 2) };
}

/**
 * Paints grids onto a surface, writing only the cells that changed since the
 * last frame (the first frame paints everything). Nothing is ever cleared
 * first, so nothing flickers. Returns how many spans it wrote.
 */
export function createPainter(surface: Surface, font: Font) {
  const { left, top } = layout(surface, font);
  let previous: Grid | null = null;
  return {
    paint(grid: Grid): number {
      const spans = dirtySpans(previous, grid);
      for (const span of spans) {
        const pixels = renderSpan(font, grid, span);
        const rowBytes = span.cols * font.width * 4;
        const bytes = new Uint8Array(pixels.buffer);
        for (let y = 0; y < font.height; y++) {
          const offset = (top + span.row * font.height + y) * surface.stride + (left + span.col * font.width) * 4;
          surface.write(offset, bytes.subarray(y * rowBytes, (y + 1) * rowBytes));
        }
      }
      previous = grid;
      return spans.length;
    },
  };
}
