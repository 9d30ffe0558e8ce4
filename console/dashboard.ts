import { Grid } from "./grid.ts";
import { selectedIndex, visibleEntries, type Entry, type LauncherState } from "./launcher.ts";

/** A launcher entry with what the dashboard shows of it. */
export type RoomRow = Entry & {
  /** "running", "frozen", "exited 3", "killed", or "" for a policy never started. */
  state: string;
  memoryCurrent: number | null;
  memoryMax: number | null;
  cpuPercent: number | null;
  pids: number | null;
  uptimeSec: number | null;
};

export type DashboardView = {
  now: Date;
  /** Whose screen this is: "bay0" on the dashboard, else a room id. */
  focus: string;
  /** bay0's own prompt is open: the trust line says so. */
  asking: boolean;
  vault: string;
  watchdog: string;
  launcher: LauncherState;
  rows: RoomRow[];
  /** The last few log events, already reduced to plain words. */
  events: string[];
};

export const COLOURS = Object.freeze({
  background: 0x12161c,
  text: 0xd8dee9,
  dim: 0x7b8594,
  trustBackground: 0x2b3340,
  /** The trust line while bay0 asks: used nowhere else, and never for a room. */
  askingBackground: 0x6b3a00,
  anchor: 0xf0c674,
  selected: 0x263242,
  warn: 0xe5a55b,
});

/** Each room's colour on the trust line and in lists: fixed by its name, so it never changes between boots. */
const ROOM_PALETTE = [0x7fb4ca, 0xa3be8c, 0xd8a0df, 0xebcb8b, 0x88c0d0, 0xd08770, 0xb48ead, 0x8fbcbb] as const;

export function roomColour(name: string): number {
  if (name === "bay0") return COLOURS.text;
  let h = 0;
  for (const ch of name.split("/")[0] ?? name) h = (h * 31 + (ch.codePointAt(0) ?? 0)) >>> 0;
  return ROOM_PALETTE[h % ROOM_PALETTE.length] ?? COLOURS.text;
}

const two = (n: number): string => String(n).padStart(2, "0");
const mib = (bytes: number | null): string => {
  if (bytes === null) return "-";
  const m = bytes / 1048576;
  return m < 10 ? `${m.toFixed(1)}M` : `${Math.round(m)}M`;
};
const duration = (sec: number | null): string => {
  if (sec === null) return "";
  const s = Math.floor(sec);
  return s < 60
    ? `${s}s`
    : s < 3600
      ? `${Math.floor(s / 60)}m${two(s % 60)}s`
      : `${Math.floor(s / 3600)}h${two(Math.floor(s / 60) % 60)}m`;
};

/** Room names on the trust line: a nested room's path can be long, and the vault's state and the time must stay. */
const NAME_SHOWN = 40;

/** What the trust line says while bay0's own prompt is open: a room's name can never read so (room names are one word). */
export const ASKING = "bay0 is asking";

/**
 * The top row, bay0's alone on every screen: ANCHOR, whose screen it is (in
 * that room's colour), the vault's state and the time. Rooms never write
 * to the framebuffer, and their text is drawn only below this row. While
 * bay0 asks, the row says so in its own colour instead of naming the room
 * under the prompt: a box a room draws in its terminal to look like bay0's
 * comes with the room's name above it.
 */
export function drawTrustLine(grid: Grid, now: Date, focus: string, vault: string, asking = false): void {
  const bg = asking ? COLOURS.askingBackground : COLOURS.trustBackground;
  grid.clearRow(0, COLOURS.text, bg);
  let col = grid.put(0, 1, "ANCHOR", COLOURS.anchor, bg);
  const who = asking ? ASKING : focus.length > NAME_SHOWN ? `${focus.slice(0, NAME_SHOWN - 2)}..` : focus;
  col = grid.put(0, col + 2, who, asking ? COLOURS.anchor : roomColour(focus), bg);
  const right = `vault: ${vault}  ${two(now.getUTCHours())}:${two(now.getUTCMinutes())}`;
  grid.put(0, Math.max(col + 2, grid.cols - right.length - 1), right, COLOURS.text, bg);
}

const COLUMNS = { name: 2, state: 20, memory: 31, cpu: 43, pids: 49, uptime: 56 } as const;

/** The dashboard: rooms and policies in one launcher list with their state and usage, then the machine, events and keys. */
export function drawDashboard(cols: number, rowsTotal: number, view: DashboardView): Grid {
  const grid = new Grid(cols, rowsTotal, COLOURS.text, COLOURS.background);
  const { background: bg, dim } = COLOURS;
  drawTrustLine(grid, view.now, view.focus, view.vault, view.asking);
  const header = 2;
  for (const [label, at] of [
    ["ROOM", COLUMNS.name],
    ["STATE", COLUMNS.state],
    ["MEMORY", COLUMNS.memory],
    ["CPU", COLUMNS.cpu],
    ["PIDS", COLUMNS.pids],
    ["UP", COLUMNS.uptime],
  ] as const) {
    grid.put(header, at, label, dim, bg);
  }
  const footer = 6;
  const listRows = Math.max(1, rowsTotal - header - 1 - footer - 1);
  const shown = visibleEntries(view.launcher, view.rows) as RoomRow[];
  const selected = selectedIndex(view.launcher, shown);
  const first = Math.max(0, selected - listRows + 1);
  shown.slice(first, first + listRows).forEach((row, i) => {
    const r = header + 1 + i;
    const isSelected = first + i === selected;
    const rowBg = isSelected ? COLOURS.selected : bg;
    grid.clearRow(r, COLOURS.text, rowBg);
    grid.put(r, 0, isSelected ? ">" : " ", COLOURS.anchor, rowBg);
    grid.put(r, COLUMNS.name, row.name.slice(0, COLUMNS.state - COLUMNS.name - 1), roomColour(row.name), rowBg);
    grid.put(r, COLUMNS.state, row.state === "" ? "-" : row.state, row.running ? COLOURS.text : dim, rowBg);
    if (row.running) {
      grid.put(r, COLUMNS.memory, `${mib(row.memoryCurrent)}/${mib(row.memoryMax)}`, COLOURS.text, rowBg);
      grid.put(r, COLUMNS.cpu, row.cpuPercent === null ? "-" : `${Math.round(row.cpuPercent)}%`, COLOURS.text, rowBg);
      grid.put(r, COLUMNS.pids, row.pids === null ? "-" : String(row.pids), COLOURS.text, rowBg);
      grid.put(r, COLUMNS.uptime, duration(row.uptimeSec), COLOURS.text, rowBg);
    }
  });
  const base = rowsTotal - footer;
  grid.put(base, 1, `Find: ${view.launcher.filter}_`, COLOURS.text, bg);
  if (view.launcher.message !== null) grid.put(base + 1, 1, view.launcher.message, COLOURS.warn, bg);
  grid.put(base + 2, 1, `Watchdog: ${view.watchdog}   Vault: ${view.vault}`, dim, bg);
  view.events.slice(-2).forEach((line, i) => grid.put(base + 3 + i, 1, line, dim, bg));
  grid.put(rowsTotal - 1, 1, "Enter start  ^R reset  ^K kill  ^F freeze  ^L lock  ^N key  Ctrl-Alt-Esc home", dim, bg);
  return grid;
}
