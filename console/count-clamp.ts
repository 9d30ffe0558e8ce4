/**
 * Clamps the counts a room writes into control sequences before the
 * terminal emulator sees them. @xterm/headless does `Ps` steps of work for
 * `CSI Ps S/T/L/M/I/Z` and allocates `Ps` cells for `CSI Ps b` (REP), so ten
 * bytes could ask for 2^31 steps; past the screen's size a larger count
 * changes nothing on it, so the emulator gets that size instead.
 *
 * It follows the emulator's own parser (the VT500 state machine xterm.js
 * implements): a CSI starts with ESC [ or U+009B; parameter and
 * intermediate bytes are held until the final byte; C0 controls inside run
 * where they are; ESC, CAN and SUB end the sequence. Nothing but the held
 * parameters is ever changed, and only for the count-taking finals of
 * sequences without a private marker.
 */

/** Finals whose parameters are counts of lines, columns or tab stops (cursor moves included: they clamp anyway). */
const COUNTED = new Set("@ABCDEFGILMPSTXZ^`ade".split(""));
const REPEAT = "b";
/** Parameter bytes held for one sequence: far more than any real one; a longer one is cancelled. */
const HELD_MAX = 64;
const ESC = "\u001b";
const CAN = "\u0018";
const SUB = "\u001a";
const CSI_C1 = "\u009b";
const DEL = "\u007f";

export type Screen = { cols: number; rows: number };

function clampParams(held: string, final: string, screen: Screen): string {
  if (/^[<=>?]/.test(held)) return held;
  const limit =
    final === REPEAT ? screen.cols * screen.rows : COUNTED.has(final) ? Math.max(screen.cols, screen.rows) : null;
  if (limit === null) return held;
  // DEL is ignored inside a sequence by the emulator: it must not split a number here either.
  return held.replaceAll(DEL, "").replace(/\d+/g, (digits) => (Number(digits) > limit ? String(limit) : digits));
}

/** A clamp for one terminal's output stream: feed it text in order; sequences split across chunks are held until whole. */
export function createCountClamp(screen: Screen): (text: string) => string {
  let state: "ground" | "escape" | "csi" | "cancelled" = "ground";
  let held = "";
  return (text) => {
    let out = "";
    for (const ch of text) {
      const code = ch.codePointAt(0) ?? 0;
      if (state === "csi" || state === "cancelled") {
        if ((code >= 0x20 && code <= 0x3f) || ch === DEL) {
          if (state === "csi") held += ch;
          if (held.length > HELD_MAX && state === "csi") {
            // Cancel it in the emulator too (CAN ends a sequence there) and drop the rest of it here.
            out += CAN;
            state = "cancelled";
            held = "";
          }
          continue;
        }
        if (code >= 0x40 && code <= 0x7e) {
          if (state === "csi") out += clampParams(held, ch, screen) + ch;
          state = "ground";
          held = "";
          continue;
        }
        if (code < 0x20 && ch !== ESC && ch !== CAN && ch !== SUB) {
          out += ch;
          continue;
        }
        // Anything else ends the sequence in the emulator as well: pass what was held, then handle the character afresh.
        if (state === "csi") out += held;
        state = "ground";
        held = "";
      }
      if (state === "escape") {
        // Controls and DEL run or are ignored without ending the escape there: ESC CR [ still starts a CSI.
        const stays = ch === ESC || ch === DEL || (code < 0x20 && ch !== CAN && ch !== SUB);
        state = ch === "[" || ch === CSI_C1 ? "csi" : stays ? "escape" : "ground";
        out += ch;
        continue;
      }
      if (ch === ESC) state = "escape";
      else if (ch === CSI_C1) state = "csi";
      out += ch;
    }
    return out;
  };
}
