import xterm from "@xterm/headless";
import { createCountClamp } from "./count-clamp.ts";
import type { Grid } from "./grid.ts";
import type { Key } from "./keymap.ts";

/** What a room's terminal may do to the screen: the cells below the trust line, nothing else. */
export type TerminalScreen = { cols: number; rows: number };

const DEFAULT_FG = 0xd8dee9;
const DEFAULT_BG = 0x0b0e12;
/** The 16 ANSI colours, then the xterm 6x6x6 cube and grey ramp for 16-255. */
const ANSI = [
  0x1d2430, 0xbf616a, 0xa3be8c, 0xebcb8b, 0x81a1c1, 0xb48ead, 0x88c0d0, 0xd8dee9, 0x4c566a, 0xd08770, 0xb5d99c,
  0xf0d399, 0x8fbcbb, 0xc895bf, 0x93ccdc, 0xeceff4,
];
const CUBE = [0, 95, 135, 175, 215, 255];
export function paletteColour(index: number): number {
  if (index < 16) return ANSI[index] ?? DEFAULT_FG;
  if (index < 232) {
    const i = index - 16;
    return ((CUBE[Math.floor(i / 36)] ?? 0) << 16) | ((CUBE[Math.floor(i / 6) % 6] ?? 0) << 8) | (CUBE[i % 6] ?? 0);
  }
  const grey = 8 + (index - 232) * 10;
  return (grey << 16) | (grey << 8) | grey;
}

/** A key as the bytes a terminal program expects (xterm's encoding); null for keys bay0 keeps. */
export function keyBytes(key: Key, applicationCursor: boolean): string | null {
  const arrow = (c: string): string => (applicationCursor ? `\u001bO${c}` : `\u001b[${c}`);
  switch (key.name) {
    case "Enter":
      return "\r";
    case "Backspace":
      return "\u007f";
    case "Tab":
      return "\t";
    case "Esc":
      return "\u001b";
    case "Up":
      return arrow("A");
    case "Down":
      return arrow("B");
    case "Right":
      return arrow("C");
    case "Left":
      return arrow("D");
    case "Delete":
      return "\u001b[3~";
    case "Home":
      return "\u001b[H";
    case "End":
      return "\u001b[F";
    case "PageUp":
      return "\u001b[5~";
    case "PageDown":
      return "\u001b[6~";
    case "char": {
      const ch = key.char ?? "";
      if (key.ctrl) {
        const code = ch.toLowerCase().charCodeAt(0);
        return code >= 0x61 && code <= 0x7a ? String.fromCharCode(code - 0x60) : ch === " " ? "\u0000" : null;
      }
      return key.alt ? `\u001b${ch}` : ch;
    }
  }
}

/** Scrollback kept per room terminal: bounded, whatever the room prints. */
const SCROLLBACK = 500;

/**
 * One room's terminal: an xterm-compatible parser (@xterm/headless) fed
 * with the room's output, drawn into the cells under the trust line. OSC 52
 * (clipboard), title changes and every other request to the host are not
 * acted on: the emulator has no clipboard and bay0 no windows; its replies
 * (cursor reports) go back to the room alone.
 */
export function createTerminal(screen: TerminalScreen, reply: (bytes: string) => void) {
  const term = new xterm.Terminal({
    cols: screen.cols,
    rows: screen.rows,
    scrollback: SCROLLBACK,
    allowProposedApi: true,
    logLevel: "off",
  });
  term.onData(reply);
  if (ANCHOR_TEST_HOOKS) {
    // Test builds only: output that crashes or wedges the console helper, as a bug in the emulator would.
    term.parser.registerOscHandler(7331, (data) => {
      if (data === "crash") process.abort();
      while (data === "stall") {
        // Spin: the helper's event loop never runs again, and bay0 must notice.
      }
      return true;
    });
  }
  const decoder = new TextDecoder("utf-8", { fatal: false });
  const clamp = createCountClamp(screen);
  return {
    /** Feeds output, every count clamped to the screen; `done` once the parser has taken it (the reader waits for that: back-pressure). */
    write(bytes: Uint8Array, done: () => void): void {
      term.write(clamp(decoder.decode(bytes, { stream: true })), done);
    },
    keyBytes: (key: Key): string | null => keyBytes(key, term.modes.applicationCursorKeysMode),
    /** Draws the visible screen into grid rows 1..screen.rows (row 0 stays the trust line's). */
    draw(grid: Grid): void {
      const buffer = term.buffer.active;
      const cell = buffer.getNullCell();
      for (let y = 0; y < screen.rows && y + 1 < grid.rows; y++) {
        const line = buffer.getLine(buffer.viewportY + y);
        for (let x = 0; x < screen.cols && x < grid.cols; x++) {
          const c = line?.getCell(x, cell);
          let fg = DEFAULT_FG;
          let bg = DEFAULT_BG;
          let chars = " ";
          if (c) {
            chars = [...(c.getChars() || " ")][0] ?? " ";
            fg = c.isFgDefault()
              ? DEFAULT_FG
              : c.isFgRGB()
                ? c.getFgColor()
                : paletteColour(c.getFgColor() + (c.isBold() && c.getFgColor() < 8 ? 8 : 0));
            bg = c.isBgDefault() ? DEFAULT_BG : c.isBgRGB() ? c.getBgColor() : paletteColour(c.getBgColor());
            if (c.isInverse()) [fg, bg] = [bg, fg];
          }
          const atCursor = buffer.viewportY + y === buffer.baseY + buffer.cursorY && x === buffer.cursorX;
          grid.put(y + 1, x, chars, atCursor ? bg : fg, atCursor ? fg : bg);
        }
      }
    },
    dispose: () => term.dispose(),
  };
}
