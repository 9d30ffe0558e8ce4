/**
 * US keyboard layout for evdev key codes (linux/input-event-codes.h numbers,
 * our own table): what a press means, given Shift, Ctrl, Alt and Caps Lock.
 */

export type KeyName =
  | "char"
  | "Enter"
  | "Backspace"
  | "Esc"
  | "Tab"
  | "Up"
  | "Down"
  | "Left"
  | "Right"
  | "Delete"
  | "Home"
  | "End"
  | "PageUp"
  | "PageDown";
/** `repeat`: the keyboard's autorepeat of a held key, not a press. */
export type Key = { name: KeyName; char?: string; ctrl: boolean; alt: boolean; shift: boolean; repeat?: true };

/** The two chords bay0 keeps for itself: reboot, and the secure attention key (back to the dashboard). */
export type Chord = "ctrl-alt-del" | "secure-attention";

const CHARS: Readonly<Record<number, readonly [string, string]>> = Object.freeze({
  2: ["1", "!"],
  3: ["2", "@"],
  4: ["3", "#"],
  5: ["4", "$"],
  6: ["5", "%"],
  7: ["6", "^"],
  8: ["7", "&"],
  9: ["8", "*"],
  10: ["9", "("],
  11: ["0", ")"],
  12: ["-", "_"],
  13: ["=", "+"],
  16: ["q", "Q"],
  17: ["w", "W"],
  18: ["e", "E"],
  19: ["r", "R"],
  20: ["t", "T"],
  21: ["y", "Y"],
  22: ["u", "U"],
  23: ["i", "I"],
  24: ["o", "O"],
  25: ["p", "P"],
  26: ["[", "{"],
  27: ["]", "}"],
  30: ["a", "A"],
  31: ["s", "S"],
  32: ["d", "D"],
  33: ["f", "F"],
  34: ["g", "G"],
  35: ["h", "H"],
  36: ["j", "J"],
  37: ["k", "K"],
  38: ["l", "L"],
  39: [";", ":"],
  40: ["'", '"'],
  41: ["`", "~"],
  43: ["\\", "|"],
  44: ["z", "Z"],
  45: ["x", "X"],
  46: ["c", "C"],
  47: ["v", "V"],
  48: ["b", "B"],
  49: ["n", "N"],
  50: ["m", "M"],
  51: [",", "<"],
  52: [".", ">"],
  53: ["/", "?"],
  57: [" ", " "],
  86: ["<", ">"],
});

const NAMED: Readonly<Record<number, KeyName>> = Object.freeze({
  1: "Esc",
  14: "Backspace",
  15: "Tab",
  28: "Enter",
  96: "Enter",
  103: "Up",
  108: "Down",
  105: "Left",
  106: "Right",
  111: "Delete",
  102: "Home",
  107: "End",
  104: "PageUp",
  109: "PageDown",
});

const KEY = {
  LEFTCTRL: 29,
  RIGHTCTRL: 97,
  LEFTSHIFT: 42,
  RIGHTSHIFT: 54,
  LEFTALT: 56,
  RIGHTALT: 100,
  CAPSLOCK: 58,
  DELETE: 111,
  KPDOT: 83,
  ESC: 1,
} as const;

/** evdev key values: 0 release, 1 press, 2 autorepeat. */
const RELEASE = 0;

/**
 * Turns a keyboard's EV_KEY events into keys. Modifier state is per
 * keyboard. Repeats (value 2) count as presses, so held keys repeat, and
 * say so: a prompt takes only real presses.
 */
export function createKeyboard() {
  const down = new Set<number>();
  let caps = false;
  const held = (...codes: number[]): boolean => codes.some((c) => down.has(c));
  return {
    feed(code: number, value: number): Key | Chord | null {
      if (value === RELEASE) {
        down.delete(code);
        return null;
      }
      if (value === 1) down.add(code);
      if (code === KEY.CAPSLOCK) {
        if (value === 1) caps = !caps;
        return null;
      }
      const ctrl = held(KEY.LEFTCTRL, KEY.RIGHTCTRL);
      const alt = held(KEY.LEFTALT, KEY.RIGHTALT);
      const shift = held(KEY.LEFTSHIFT, KEY.RIGHTSHIFT);
      if (ctrl && alt && (code === KEY.DELETE || code === KEY.KPDOT)) return "ctrl-alt-del";
      if (ctrl && alt && code === KEY.ESC) return "secure-attention";
      const repeat = value === 1 ? {} : { repeat: true as const };
      const named = NAMED[code];
      if (named !== undefined) return { name: named, ctrl, alt, shift, ...repeat };
      const pair = CHARS[code];
      if (pair === undefined) return null;
      const letter = /^[a-z]$/.test(pair[0]);
      const upper = letter ? shift !== caps : shift;
      return { name: "char", char: upper ? pair[1] : pair[0], ctrl, alt, shift, ...repeat };
    },
  };
}
