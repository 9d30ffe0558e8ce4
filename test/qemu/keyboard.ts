/**
 * Typing at the VM's keyboard with QMP send-key, checked on the screen. A
 * guest starved of the host's CPU (TCG, two VMs on two cores) can leave the
 * emulated keyboard's 16-event queue unread long enough for keys to be
 * lost, so what is typed is read back before Enter, and typed again when
 * something is missing: a test must fail on what bay0 does, not on a lost key.
 */
type Keys = { sendKeys(keys: string[]): Promise<unknown> };
type Screen = { text(): Promise<string[]> };

/** QMP qcodes for the characters the tests type (US layout). */
const QCODES: { [ch: string]: string[] } = {
  " ": ["spc"],
  "-": ["minus"],
  ".": ["dot"],
  "/": ["slash"],
  "=": ["equal"],
  ",": ["comma"],
  "'": ["apostrophe"],
  ";": ["semicolon"],
  $: ["shift", "4"],
  "(": ["shift", "9"],
  ")": ["shift", "0"],
  "*": ["shift", "8"],
  ">": ["shift", "dot"],
  "|": ["shift", "backslash"],
};

export const qcodes = (ch: string): string[] => QCODES[ch] ?? (/^[A-Z]$/.test(ch) ? ["shift", ch.toLowerCase()] : [ch]);

/** Sends each character's keys in turn; nothing checked. */
export async function typeKeys(vm: Keys, text: string): Promise<void> {
  for (const ch of text) await vm.sendKeys(qcodes(ch));
}

const ATTEMPTS = 4;
/**
 * QEMU holds each key 100 ms and queues the rest, so keys still arrive long
 * after send-key answered (a 71-character key took over 30 s on a loaded
 * host): the count must rest this long before it counts as final.
 */
const STILL_MS = 3_000;
const SETTLE_LIMIT_MS = 180_000;
/** Each look decodes a whole screendump: looked at sparingly, so the host keeps its CPU for the VMs. */
const LOOK_EVERY_MS = 1_000;

/**
 * Waits until bay0's open prompt takes keys: for a moment after it is drawn
 * it ignores them (its hint line says so), so keys sent earlier are lost.
 */
export async function promptArmed(screen: Screen, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const lines = await screen.text();
    if (lines.some((l) => /Enter to (confirm|choose)/.test(l))) return;
    if (Date.now() > deadline) throw new Error(`no armed prompt on the screen:\n${lines.join("\n")}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** Polls `typed` until it reports `want`, or stops changing for STILL_MS; the last count. */
async function settled(
  screen: Screen,
  typed: (lines: string[]) => number | null,
  want: number,
): Promise<number | null> {
  let last: number | null = null;
  let since = Date.now();
  for (const limit = Date.now() + SETTLE_LIMIT_MS; ;) {
    const now = typed(await screen.text());
    if (now === want) return now;
    if (now !== last) [last, since] = [now, Date.now()];
    if (Date.now() - since > STILL_MS || Date.now() > limit) return now;
    await new Promise((r) => setTimeout(r, LOOK_EVERY_MS));
  }
}

/**
 * Calls `send` until `shown` (what the screen shows: a count, an offset, or
 * null for not yet) reads `want`, calling `undo` with what it showed
 * between tries; throws after ATTEMPTS, naming `what`.
 */
async function sendUntil(
  screen: Screen,
  what: string,
  send: () => Promise<void>,
  shown: (lines: string[]) => number | null,
  want: number,
  undo: (seen: number | null) => Promise<void>,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    await send();
    const seen = await settled(screen, shown, want);
    if (seen === want) return;
    if (attempt === ATTEMPTS)
      throw new Error(`${what}: after ${ATTEMPTS} tries the screen showed ${seen ?? "none"} for ${want}`);
    await undo(seen);
  }
}

/** Types `text` until `typed` (how much the screen shows of it) reports all of it, erasing with `erase` between tries; then Enter, if `enter`. */
async function typeChecked(
  vm: Keys,
  screen: Screen,
  text: string,
  typed: (lines: string[]) => number | null,
  erase: () => Promise<void>,
  enter = true,
): Promise<void> {
  await sendUntil(screen, `typing ${text.length} characters`, () => typeKeys(vm, text), typed, text.length, erase);
  if (enter) await vm.sendKeys(["ret"]);
}

/** A secret is typed and checked this many characters at a time, so a lost or repeated key costs one piece, not the whole. */
const PIECE = 8;

/**
 * Types a secret into bay0's masked prompt labelled `label`, a piece at a
 * time, checking the count of dots (or the count it shows for a long one)
 * after each and typing a piece again from its start when the count is off
 * (a key lost, or repeated by a late release); then Enter.
 */
export async function typeSecret(vm: Keys, screen: Screen, label: string, text: string): Promise<void> {
  const line = new RegExp(`${label}: (?:\\((\\d+)\\) )?(\u2022*)_`);
  const typed = (lines: string[]): number | null => {
    for (const l of lines) {
      const m = line.exec(l);
      if (m !== null) return m[1] !== undefined ? Number(m[1]) : (m[2] ?? "").length;
    }
    return null;
  };
  await promptArmed(screen);
  for (let at = 0; at < text.length; at += PIECE) {
    const piece = text.slice(at, at + PIECE);
    const what = `typing a secret of ${text.length} characters, after ${at}`;
    await sendUntil(
      screen,
      what,
      () => typeKeys(vm, piece),
      typed,
      at + piece.length,
      async (seen) => {
        if (seen === null || seen < at) throw new Error(`${what}: the screen showed ${seen ?? "no prompt"}`);
        for (let i = at; i < seen; i++) await vm.sendKeys(["backspace"]);
        await settled(screen, typed, at);
      },
    );
  }
  await vm.sendKeys(["ret"]);
}

/**
 * Picks `choice` in bay0's open choice prompt with the arrow keys, checking
 * on the screen which choice is marked ">" before Enter: a lost arrow key
 * would otherwise answer with the wrong choice.
 */
export async function chooseChoice(vm: Keys, screen: Screen, choice: string): Promise<void> {
  /** How many rows the marked choice sits below `choice`; null while the prompt is not on the screen. */
  const offset = (lines: string[]): number | null => {
    // The choice's own row reads "> X" or "  X", then the box's padding: a title "X and more" is not it.
    const at = (l: string): number => {
      for (let c = l.indexOf(choice); c >= 2; c = l.indexOf(choice, c + 1)) {
        const after = l.slice(c + choice.length, c + choice.length + 2);
        if (
          /^[> ] $/.test(l.slice(c - 2, c)) &&
          after.trim() === "" &&
          (after.length === 2 || c + choice.length + after.length === l.length)
        )
          return c - 2;
      }
      return -1;
    };
    const row = lines.findIndex((l) => at(l) >= 0);
    if (row < 0) return null;
    const column = at(lines[row] ?? "");
    // The choices are the rows around it reading "> X" or "  X"; the blank row above and below ends them.
    const isChoice = (r: number): boolean => /^[> ] \S/.test((lines[r] ?? "").slice(column, column + 3));
    let first = row;
    while (isChoice(first - 1)) first--;
    for (let r = first; isChoice(r); r++) if (lines[r]?.[column] === ">") return r - row;
    return null;
  };
  await promptArmed(screen);
  const move = async (): Promise<void> => {
    const now = offset(await screen.text()) ?? 0;
    for (let i = 0; i < Math.abs(now); i++) await vm.sendKeys([now > 0 ? "up" : "down"]);
  };
  await sendUntil(screen, `choosing "${choice}"`, move, offset, 0, async () => undefined);
  await vm.sendKeys(["ret"]);
}

/** Types a command line into a room's terminal, checking its echo on the cursor's line (the last one written); Ctrl-U clears a broken one. */
export function typeLine(vm: Keys, screen: Screen, text: string): Promise<void> {
  const typed = (lines: string[]): number | null => {
    const cursorLine = lines.filter((l) => l.trim() !== "").at(-1) ?? "";
    // Anything else is a different number, which changes while keys still arrive.
    return cursorLine.trimEnd().endsWith(text) ? text.length : -1 - cursorLine.trimEnd().length;
  };
  return typeChecked(vm, screen, text, typed, async () => void (await vm.sendKeys(["ctrl", "u"])));
}

/** Types into the dashboard's launcher, checking its "Find:" line; Esc clears a broken filter. No Enter. */
export function typeFilter(vm: Keys, screen: Screen, text: string): Promise<void> {
  const typed = (lines: string[]): number | null => {
    const shown = lines.map((l) => /^ Find: (.*)_/.exec(l)?.[1]).find((f) => f !== undefined);
    return shown === undefined ? null : shown === text ? text.length : -1 - shown.length;
  };
  return typeChecked(vm, screen, text, typed, async () => void (await vm.sendKeys(["esc"])), false);
}
