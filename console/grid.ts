/**
 * The trusted console's screen as text cells: one code point and two
 * colours (0xRRGGBB) per cell. Screens are drawn into a Grid; only cells
 * that differ from the previous frame reach the framebuffer.
 */
export class Grid {
  readonly ch: Uint32Array;
  readonly fg: Uint32Array;
  readonly bg: Uint32Array;

  constructor(
    readonly cols: number,
    readonly rows: number,
    fg = 0xffffff,
    bg = 0,
  ) {
    this.ch = new Uint32Array(cols * rows).fill(0x20);
    this.fg = new Uint32Array(cols * rows).fill(fg);
    this.bg = new Uint32Array(cols * rows).fill(bg);
  }

  /**
   * Writes text from (row, col), clipped to the row. Anything outside
   * printable characters becomes '?': a room's name or a log field can never
   * move the cursor or draw outside its cells. Returns the column after it.
   */
  put(row: number, col: number, text: string, fg: number, bg: number): number {
    if (row < 0 || row >= this.rows) return col;
    let c = col;
    for (const char of text) {
      if (c >= this.cols) break;
      const cp = char.codePointAt(0) ?? 0x3f;
      if (c >= 0) {
        const i = row * this.cols + c;
        this.ch[i] = cp < 0x20 || (cp >= 0x7f && cp < 0xa0) ? 0x3f : cp;
        this.fg[i] = fg;
        this.bg[i] = bg;
      }
      c += 1;
    }
    return c;
  }

  /** Paints a whole row blank in these colours. */
  clearRow(row: number, fg: number, bg: number): void {
    if (row < 0 || row >= this.rows) return;
    const from = row * this.cols;
    this.ch.fill(0x20, from, from + this.cols);
    this.fg.fill(fg, from, from + this.cols);
    this.bg.fill(bg, from, from + this.cols);
  }

  /** The text of one row (tests and the screen dump). */
  rowText(row: number): string {
    return String.fromCodePoint(...this.ch.subarray(row * this.cols, (row + 1) * this.cols));
  }
}

/** A run of changed cells in one text row. */
export type Span = { row: number; col: number; cols: number };

/** Per row, the smallest run covering every cell that changed (all of it when there is no previous frame). */
export function dirtySpans(prev: Grid | null, next: Grid): Span[] {
  const spans: Span[] = [];
  for (let row = 0; row < next.rows; row++) {
    if (prev === null || prev.cols !== next.cols || prev.rows !== next.rows) {
      spans.push({ row, col: 0, cols: next.cols });
      continue;
    }
    let first = -1;
    let last = -1;
    for (let col = 0; col < next.cols; col++) {
      const i = row * next.cols + col;
      if (prev.ch[i] !== next.ch[i] || prev.fg[i] !== next.fg[i] || prev.bg[i] !== next.bg[i]) {
        if (first < 0) first = col;
        last = col;
      }
    }
    if (first >= 0) spans.push({ row, col: first, cols: last - first + 1 });
  }
  return spans;
}
