import { tokenBucket } from "../rooms/output.ts";
import type { Log } from "../sys/log.ts";
import { drawDashboard, drawTrustLine, COLOURS, type RoomRow } from "./dashboard.ts";
import { Grid } from "./grid.ts";
import { createTerminal } from "./terminal.ts";
import type { Font } from "./font.ts";
import type { Chord, Key } from "./keymap.ts";
import { INITIAL_LAUNCHER, launcherKey, type Command, type Entry, type LauncherState } from "./launcher.ts";
import { createPainter, layout, type Surface } from "./painter.ts";
import { ARMING_MS, drawPrompt, isArmed, openPrompt, promptKey, type PromptState } from "./prompt.ts";
import { denial, SHOWN_EVENTS, type PromptAnswer, type PromptRequest } from "./protocol.ts";
import type { RoomUsage } from "./room-usage.ts";
import type { RoomSnapshot, ShownRecord } from "./to-console.ts";

/** A live room as the dashboard shows it: as bay0 said, and what it uses now. */
export type RoomView = Omit<RoomSnapshot, "node"> & { usage: RoomUsage };

/** What the console needs of bay0's rooms. */
export type ConsoleRooms = {
  policies(): string[];
  snapshot(): RoomView[];
  start(name: string): Promise<{ ok: boolean; reason?: string }>;
  kill(id: string): Promise<boolean>;
  reset(id: string): Promise<{ ok: boolean; reason?: string }>;
  freeze(id: string, frozen: boolean): Promise<boolean>;
};

/** Reading and writing a room terminal's pseudo-terminal master (the edge: sys/). */
export type TerminalIo = {
  /** Streams the fd's output to onChunk, waiting for each to be taken; resolves when the room side is gone. */
  read(fd: number, onChunk: (chunk: Uint8Array) => Promise<void>): Promise<void>;
  /** Writes without blocking; what the terminal cannot take now is dropped (keys, replies). */
  write(fd: number, text: string): void;
  resize(fd: number, rows: number, cols: number): void;
  close(fd: number): void;
  sleep(ms: number): Promise<void>;
};

export type ConsoleDeps = {
  log: Log;
  terminals: TerminalIo;
  surface: Surface;
  font: Font;
  rooms: ConsoleRooms;
  watchdog: () => string;
  vault: { state(): string; lock(): Promise<string | null>; newRecoveryKey(): Promise<string | null> };
  now: () => Date;
  /** Monotonic milliseconds (CPU shares are measured over these). */
  clockMs: () => number;
};

const EVENTS_KEPT = 4;
/** A room terminal's output budget: what bay0 parses per second for it; beyond, the room waits (its writes block). */
const TERMINAL_BYTES_PER_SECOND = 64 * 1024;
const TERMINAL_BURST_BYTES = 256 * 1024;
/**
 * The time bay0 spends parsing one room's terminal output: a fifth of a CPU
 * on average, bursts of 2 s; past it the room waits. The byte budget alone
 * would let cheap bytes buy expensive work.
 */
const TERMINAL_PARSE_MS_PER_SECOND = 200;
const TERMINAL_PARSE_BURST_MS = 2000;
/** Terminal output is shown this soon after it arrives (typing must feel immediate). */
const ECHO_MS = 30;
/** Prompts waiting behind the open one; more are refused at once with their default. */
const PROMPTS_QUEUED = 4;
/** How long "Lock the vault?" waits for an answer before it is a no. */
const LOCK_QUESTION_MS = 30_000;
const ENDED: Record<string, (r: ShownRecord) => string> = {
  "room.exited": (r) =>
    r.status === null || r.status === undefined ? `exited ${String(r.signal)}` : `exited ${String(r.status)}`,
  "room.killed": () => "killed",
  "room.failed": () => "failed",
};

/**
 * The trusted console: bay0 draws the dashboard and launcher on the
 * framebuffer, and only keys bay0 read from grabbed keyboards drive it.
 * `record` is a log sink (state changes and recent events), `key` takes
 * decoded keys, `refresh` redraws (what changed only).
 */
export function createConsole(deps: ConsoleDeps) {
  const { cols, rows } = layout(deps.surface, deps.font);
  const painter = createPainter(deps.surface, deps.font);
  let launcher: LauncherState = { ...INITIAL_LAUNCHER };
  const ended = new Map<string, string>();
  const events: string[] = [];
  const cpu = new Map<string, { usec: number; atMs: number; percent: number | null }>();

  const roomRows = (): RoomRow[] => {
    const live = deps.rooms.snapshot();
    const nowMs = deps.clockMs();
    const rowsOut: RoomRow[] = live.map((room) => {
      const last = cpu.get(room.id);
      let percent = last?.percent ?? null;
      if (room.usage.cpuUsec !== null) {
        if (last !== undefined && nowMs > last.atMs)
          percent = Math.max(0, ((room.usage.cpuUsec - last.usec) / 1000 / (nowMs - last.atMs)) * 100);
        cpu.set(room.id, { usec: room.usage.cpuUsec, atMs: nowMs, percent });
      }
      return {
        name: room.id,
        running: true,
        frozen: room.frozen,
        state: room.frozen ? "frozen" : room.started ? "running" : "starting",
        memoryCurrent: room.usage.memoryCurrent,
        memoryMax: room.usage.memoryMax,
        cpuPercent: percent,
        pids: room.usage.pids,
        uptimeSec: room.uptimeMs / 1000,
      };
    });
    for (const id of [...cpu.keys()]) if (!live.some((r) => r.id === id)) cpu.delete(id);
    const idle = deps.rooms
      .policies()
      .filter((name) => !live.some((r) => r.id === name))
      .map((name): RoomRow => ({
        name,
        running: false,
        frozen: false,
        state: ended.get(name) ?? "",
        memoryCurrent: null,
        memoryMax: null,
        cpuPercent: null,
        pids: null,
        uptimeSec: null,
      }));
    // Running rooms first, then the policies one could start.
    const byName = (a: RoomRow, b: RoomRow): number => a.name.localeCompare(b.name);
    return [...rowsOut.sort(byName), ...idle.sort(byName)];
  };

  type OpenPrompt = { state: PromptState; resolve: (answer: PromptAnswer) => void; deadlineMs: number | null };
  let prompt: OpenPrompt | null = null;
  const waiting: { request: PromptRequest; resolve: (answer: PromptAnswer) => void }[] = [];
  const show = (next: { request: PromptRequest; resolve: (answer: PromptAnswer) => void } | undefined): void => {
    const nowMs = deps.clockMs();
    prompt =
      next === undefined
        ? null
        : {
            state: openPrompt(next.request, nowMs),
            resolve: next.resolve,
            deadlineMs: next.request.kind === "choice" ? nowMs + next.request.timeoutMs : null,
          };
    // Redrawn once armed: the hint line then says which keys answer.
    if (prompt !== null) setTimeout(() => refresh(), ARMING_MS + 1);
  };
  /** Ends the open prompt: logged without what was typed, answered, and the next one shown. */
  const finish = (answer: PromptAnswer, outcome: "answered" | "cancelled" | "timeout"): void => {
    if (prompt === null) return;
    deps.log.info("console.prompt", { kind: prompt.state.request.kind, title: prompt.state.request.title, outcome });
    const { resolve } = prompt;
    show(waiting.shift());
    resolve(answer);
  };

  type Session = { fd: number; terminal: ReturnType<typeof createTerminal> };
  const sessions = new Map<string, Session>();
  let focus = "bay0";
  /** Rooms started from the console whose terminal should take the focus once it arrives. */
  const focusOnArrival = new Set<string>();
  let echoTimer: ReturnType<typeof setTimeout> | null = null;
  const soon = (): void => {
    echoTimer ??= setTimeout(() => {
      echoTimer = null;
      refresh();
    }, ECHO_MS);
  };
  const setFocus = (room: string): void => {
    if (focus === room) return;
    focus = room;
    deps.log.info("console.action", { action: "focus", room });
  };

  /** Takes a terminal room's pseudo-terminal: sized to the screen under the trust line, read with a budget, closed when the room is gone. */
  const attach = (room: string, fd: number): void => {
    const screen = { cols, rows: rows - 1 };
    deps.terminals.resize(fd, screen.rows, screen.cols);
    const terminal = createTerminal(screen, (reply) => deps.terminals.write(fd, reply));
    sessions.set(room, { fd, terminal });
    if (focusOnArrival.delete(room)) setFocus(room);
    const budget = tokenBucket(TERMINAL_BURST_BYTES, TERMINAL_BYTES_PER_SECOND, deps.clockMs);
    const parseTime = tokenBucket(TERMINAL_PARSE_BURST_MS, TERMINAL_PARSE_MS_PER_SECOND, deps.clockMs);
    let throttled = false;
    void deps.terminals
      .read(fd, async (chunk) => {
        // Not reading is the back-pressure: the room's writes wait in the kernel until bay0 takes more.
        while (!budget.take(Math.min(chunk.length, TERMINAL_BURST_BYTES))) await deps.terminals.sleep(50);
        const started = deps.clockMs();
        await new Promise<void>((done) => terminal.write(chunk, done));
        const spent = Math.min(deps.clockMs() - started, TERMINAL_PARSE_BURST_MS);
        if (!parseTime.take(spent)) {
          if (!throttled)
            deps.log.warn("console.terminal_throttled", { room, parse_ms_per_second: TERMINAL_PARSE_MS_PER_SECOND });
          throttled = true;
          while (!parseTime.take(spent)) await deps.terminals.sleep(50);
        }
        if (focus === room) soon();
      })
      .catch(() => undefined)
      .finally(() => {
        sessions.delete(room);
        terminal.dispose();
        deps.terminals.close(fd);
        if (focus === room) setFocus("bay0");
        refresh();
      });
  };

  /** The launcher's list as last drawn (the keys act on what the person sees). */
  let current: RoomRow[] = [];
  const drawScreen = (): Grid => {
    const session = sessions.get(focus);
    if (session) {
      // A room's terminal: its cells and the trust line; no room usage is read while it shows.
      const grid = new Grid(cols, rows, COLOURS.text, COLOURS.background);
      drawTrustLine(grid, deps.now(), focus, deps.vault.state(), prompt !== null);
      session.terminal.draw(grid);
      return grid;
    }
    current = roomRows();
    return drawDashboard(cols, rows, {
      now: deps.now(),
      focus: "bay0",
      asking: prompt !== null,
      vault: deps.vault.state(),
      watchdog: deps.watchdog(),
      launcher,
      rows: current,
      events,
    });
  };
  const refresh = (): void => {
    if (
      prompt !== null &&
      prompt.deadlineMs !== null &&
      prompt.state.request.kind === "choice" &&
      deps.clockMs() >= prompt.deadlineMs
    )
      finish(denial(prompt.state.request, true), "timeout");
    const grid = drawScreen();
    if (prompt !== null) {
      const nowMs = deps.clockMs();
      drawPrompt(
        grid,
        prompt.state,
        prompt.deadlineMs === null ? null : Math.max(0, Math.ceil((prompt.deadlineMs - nowMs) / 1000)),
        isArmed(prompt.state, nowMs),
      );
    }
    painter.paint(grid);
  };

  /**
   * Asks the person: one prompt at a time, over any screen, taking every
   * key until it is answered; the others wait (a few) or get their default
   * (a confirmation always waits).
   */
  const ask = (request: PromptRequest): Promise<PromptAnswer> =>
    new Promise((resolve) => {
      if (prompt === null) show({ request, resolve });
      else if (waiting.length < PROMPTS_QUEUED || request.kind === "confirm") waiting.push({ request, resolve });
      else resolve(denial(request, false));
      refresh();
    });

  const act = async (command: Command): Promise<void> => {
    const room =
      command.kind === "start"
        ? command.name
        : command.kind === "lock-vault" || command.kind === "recovery-key"
          ? "vault"
          : command.id;
    const action = command.kind === "freeze" ? (command.frozen ? "freeze" : "thaw") : command.kind;
    if (command.kind !== "focus") deps.log.info("console.action", { action, room });
    let reason: string | null = null;
    if (command.kind === "lock-vault") {
      const sure = await ask({
        kind: "choice",
        title: "Lock the vault?",
        lines: ["Rooms that see it are stopped first.", "It opens again at the next boot."],
        choices: ["Cancel", "Lock"],
        timeoutMs: LOCK_QUESTION_MS,
      });
      reason = sure.kind === "choice" && sure.index === 1 && !sure.timedOut ? await deps.vault.lock() : "not locked";
      if (reason === null) launcher = { ...launcher, message: "vault: locked" };
    } else if (command.kind === "recovery-key") {
      reason = await deps.vault.newRecoveryKey();
      if (reason === null) launcher = { ...launcher, message: "vault: the new recovery key replaced the old one" };
    } else if (command.kind === "start") {
      focusOnArrival.add(command.name);
      const result = await deps.rooms.start(command.name);
      focusOnArrival.delete(command.name);
      if (!result.ok) reason = result.reason ?? "refused";
    } else if (command.kind === "reset") {
      const result = await deps.rooms.reset(command.id);
      if (!result.ok) reason = result.reason ?? "reset failed";
      else launcher = { ...launcher, message: `${command.id}: reset` };
    } else if (command.kind === "kill") {
      if (!(await deps.rooms.kill(command.id))) reason = `${command.id} is not running`;
    } else if (command.kind === "freeze") {
      if (!(await deps.rooms.freeze(command.id, command.frozen)))
        reason = `${command.id} could not be ${command.frozen ? "frozen" : "thawed"}`;
      else launcher = { ...launcher, message: `${command.id}: ${command.frozen ? "frozen" : "thawed"}` };
    } else if (sessions.has(command.id)) {
      setFocus(command.id);
    } else {
      reason = `${command.id} has no terminal`;
    }
    if (reason !== null) launcher = { ...launcher, message: `${room}: ${reason}` };
    refresh();
  };

  return {
    cols,
    rows,
    refresh,
    ask,
    key(key: Key | Chord): void {
      if (key === "ctrl-alt-del") return;
      if (
        prompt !== null &&
        key === "secure-attention" &&
        prompt.state.request.kind === "choice" &&
        prompt.state.request.dismissable
      ) {
        // A room's request never stands between the person and the dashboard: dismissed as its default, a denial.
        finish(denial(prompt.state.request, false), "cancelled");
      }
      if (prompt !== null && key !== "secure-attention") {
        const next = promptKey(prompt.state, key, deps.clockMs());
        prompt.state = next.state;
        if (next.answer) {
          const cancelled = next.answer.kind === "secret" ? next.answer.value === null : key.name === "Esc";
          finish(next.answer, cancelled ? "cancelled" : "answered");
        }
        refresh();
        return;
      }
      if (key === "secure-attention") {
        // Home, with the room just left selected, so Ctrl-R or Ctrl-K acts on it.
        const left = focus;
        setFocus("bay0");
        launcher = { ...INITIAL_LAUNCHER, selected: left === "bay0" ? null : left };
        refresh();
        return;
      }
      const session = sessions.get(focus);
      if (session) {
        const bytes = session.terminal.keyBytes(key);
        if (bytes !== null) deps.terminals.write(session.fd, bytes);
        return;
      }
      const entries: Entry[] = current.map((r) => ({ name: r.name, running: r.running, frozen: r.frozen }));
      const next = launcherKey(launcher, key, entries);
      launcher = next.state;
      refresh();
      if (next.command)
        void act(next.command).catch((error: unknown) =>
          deps.log.error("bay0.error", { where: "console", error: String(error) }),
        );
    },
    attach,
    record(record: ShownRecord): void {
      const end = ENDED[record.event];
      if (typeof record.room === "string" && end !== undefined) ended.set(record.room, end(record));
      if (typeof record.room === "string" && record.event === "room.started") ended.delete(record.room);
      if (!SHOWN_EVENTS.test(record.event)) return;
      events.push(
        `${record.ts.slice(11, 19)} ${record.event}${typeof record.room === "string" ? ` ${record.room}` : ""}`,
      );
      if (events.length > EVENTS_KEPT) events.shift();
    },
  };
}
