/**
 * bay0's side of the trusted console, which runs as a resident helper
 * (`bay0 console`, console/main.ts) under a user of its own: it owns the
 * screen and the keyboards and parses rooms' terminal output, so whatever
 * crashes or stalls it dies alone. bay0 keeps the decisions: it opens the
 * devices the helper may not, answers the helper's actions, sends it what the
 * dashboard shows and each room's terminal, asks it the questions,
 * and starts it again when it dies or stops saying it is alive. A prompt on
 * a console that died is answered as a denial; a confirmation (a recovery
 * key being shown) is shown again by the next one.
 */
import type { Libc } from "../sys/libc.ts";
import type { Log, LogRecord } from "../sys/log.ts";
import type { Spawner } from "../sys/spawn.ts";
import {
  CONSOLE_EVENT_PREFIX,
  CONSOLE_USER,
  denial,
  fromConsoleSchema,
  SHOWN_EVENTS,
  type Action,
  type FromConsole,
  type PromptAnswer,
  type PromptRequest,
} from "../console/protocol.ts";
import type { RoomSnapshot, ToConsole } from "../console/to-console.ts";
import { keepResident, type ResidentChild } from "./resident.ts";
import type { Rooms } from "./rooms.ts";
import type { Vault } from "./vault.ts";

/** The helper says it is alive every second; this long without a word, it is killed and started again. */
const STALLED_MS = 10_000;
/** Its first word may take longer: a second Bun starting beside the rest of the boot, on a slow machine. */
const STARTING_MS = 60_000;
/** How often the dashboard's picture of the rooms is sent (the helper redraws as often). */
const CHECK_MS = 500;

export type ConsoleLinkDeps = {
  libc: Libc;
  log: Log;
  spawner: Spawner;
  now: () => number;
  /** What the dashboard shows now. */
  state: () => { rooms: RoomSnapshot[]; policies: string[]; vault: string; watchdog: string };
  /** Every live room's terminal (sent again to a helper that starts again). */
  terminals: () => { room: string; fd: number }[];
  /** Does what the person chose; null when done, else why not. */
  act: (action: Action, room: string | null) => Promise<string | null>;
  power: (device: string) => void;
  ctrlAltDel: (device: string) => void;
  /** What bay0 opens for the helper, which may not: the framebuffer (with the VT's state), the input devices. */
  devices: {
    screen: () => { ok: true; fd: number; device: string; vt: string } | { ok: false; reason: string };
    inputs: () => string[];
    openInput: (device: string) => number;
  };
};

type Pending = { request: PromptRequest; resolve: (answer: PromptAnswer) => void; sentTo: number | null };

export function startConsoleLink(deps: ConsoleLinkDeps) {
  const { log } = deps;
  /** What the latest helper said of the screen: null until its hello. */
  let screen: boolean | null = null;
  let lastWord = 0;
  let ready: () => void = () => undefined;
  const firstHello = new Promise<void>((resolve) => (ready = resolve));
  let nextId = 1;
  const pending = new Map<number, Pending>();
  /** Input devices the running helper has; those bay0 could not open (reported once). */
  const handed = new Set<string>();
  const unopenable = new Set<string>();

  const child = (): ResidentChild<ToConsole> | null => resident.current();
  const live = () => (screen !== null ? child() : null);
  const send = (message: ToConsole): void => live()?.write(message);
  const sendPrompt = (id: number, entry: Pending): void => {
    const to = live();
    if (to === null || screen !== true) return;
    entry.sentTo = to.generation;
    to.write({ type: "ask", id, request: entry.request });
  };
  /** An fd on the channel, then the line that names it (the helper reads them in that order). */
  const sendFd = (to: ResidentChild<ToConsole>, fd: number, message: ToConsole): boolean => {
    if (to.channel === null) return false;
    const sent = deps.libc.sendFd(to.channel, fd);
    if (sent.ok) to.write(message);
    else log.warn("console.error", { where: message.type, error: sent.message });
    return sent.ok;
  };
  const sendTerminal = (room: string, fd: number): void => {
    const to = live();
    if (to !== null) sendFd(to, fd, { type: "terminal", room });
  };
  /** Opens input devices the helper lacks (at its start, and as they are plugged in) and hands them over. */
  const rescan = (): void => {
    const to = child();
    if (to === null) return;
    for (const device of deps.devices.inputs()) {
      if (handed.has(device) || unopenable.has(device)) continue;
      let fd: number;
      try {
        fd = deps.devices.openInput(device);
      } catch (error) {
        unopenable.add(device);
        log.warn("input.error", { device, error: String(error) });
        continue;
      }
      if (sendFd(to, fd, { type: "input", device })) handed.add(device);
      deps.libc.close(fd);
    }
  };
  /** The keyboards first: they are grabbed before the screen is taken, so no key typed meanwhile reaches the kernel's VT. */
  const sendDevices = (to: ResidentChild<ToConsole>): void => {
    handed.clear();
    rescan();
    log.info("input.watching", { devices: [...handed] });
    const screen = deps.devices.screen();
    if (screen.ok) {
      if (!sendFd(to, screen.fd, { type: "screen", device: screen.device, vt: screen.vt }))
        to.write({ type: "no-screen", reason: "the framebuffer could not be handed over" });
      deps.libc.close(screen.fd);
    } else {
      to.write({ type: "no-screen", reason: screen.reason });
    }
  };
  const pushState = (): void => {
    const state = deps.state();
    send({ type: "state", ...state });
  };

  const onMessage = (_: ResidentChild<ToConsole>, message: FromConsole): void => {
    lastWord = deps.now();
    switch (message.type) {
      case "hello": {
        screen = message.screen;
        ready();
        pushState();
        for (const { room, fd } of deps.terminals()) sendTerminal(room, fd);
        for (const [id, entry] of pending) {
          if (screen) sendPrompt(id, entry);
          else if (entry.request.kind !== "confirm") settle(id, denial(entry.request, false));
        }
        return;
      }
      case "alive":
        return;
      case "answer": {
        const entry = pending.get(message.id);
        if (entry === undefined) return;
        // An answer of another kind than the question is no answer: a denial (a confirmation waits on).
        if (message.answer.kind === entry.request.kind) settle(message.id, message.answer);
        else if (entry.request.kind !== "confirm") settle(message.id, denial(entry.request, false));
        return;
      }
      case "act":
        void deps
          .act(message.action, message.room)
          .catch((error: unknown) => String(error))
          .then((reason) => send({ type: "acted", id: message.id, reason }));
        return;
      case "power":
        return deps.power(message.device);
      case "ctrl-alt-del":
        return deps.ctrlAltDel(message.device);
    }
  };
  const settle = (id: number, answer: PromptAnswer): void => {
    const entry = pending.get(id);
    if (entry === undefined) return;
    pending.delete(id);
    entry.resolve(answer);
  };

  const resident = keepResident<ToConsole, FromConsole>(deps, {
    name: "console",
    prefix: CONSOLE_EVENT_PREFIX,
    reply: fromConsoleSchema,
    user: CONSOLE_USER,
    channel: true,
    onStart: (started) => {
      screen = null;
      lastWord = deps.now();
      sendDevices(started);
    },
    onMessage,
    onExit: (ended) => {
      screen = null;
      // What this console was asking is denied; a confirmation waits for the next one.
      for (const [id, entry] of pending) {
        if (entry.sentTo !== ended.generation) continue;
        if (entry.request.kind === "confirm") entry.sentTo = null;
        else settle(id, denial(entry.request, false));
      }
    },
  });

  const check = (): void => {
    const running = child();
    if (running === null) return;
    if (deps.now() - lastWord > (screen === null ? STARTING_MS : STALLED_MS)) {
      log.warn("console.stalled", { pid: running.pid, silent_ms: deps.now() - lastWord });
      resident.kill();
      lastWord = deps.now();
      return;
    }
    // A console without a screen shows nothing: it needs no picture of the rooms.
    if (screen === true) pushState();
  };

  resident.start();
  return {
    /** Resolves once a console first said whether it has a screen (or never will). */
    ready: firstHello,
    /** Refreshes the dashboard's picture of the rooms and the vault; kills a silent helper. */
    check,
    /** Asks the person, or null on a machine whose console has no screen. */
    ask: (): ((request: PromptRequest) => Promise<PromptAnswer>) | null =>
      screen === false
        ? null
        : (request) =>
            new Promise((resolve) => {
              const id = nextId++;
              const entry: Pending = { request, resolve, sentTo: null };
              pending.set(id, entry);
              sendPrompt(id, entry);
            }),
    terminal: sendTerminal,
    rescan,
    record(record: LogRecord): void {
      if (!SHOWN_EVENTS.test(record.event)) return;
      const { event, ts, room, status, signal } = record;
      send({
        type: "record",
        record: {
          event,
          ts,
          ...(typeof room === "string" ? { room } : {}),
          ...(typeof status === "number" || status === null ? { status } : {}),
          ...(typeof signal === "string" || signal === null ? { signal } : {}),
        },
      });
    },
    stopRestarting: resident.stopRestarting,
    /** Test hook: the helper killed as a crash would. */
    kill: resident.kill,
    every: CHECK_MS,
  };
}

export type ConsoleLink = ReturnType<typeof startConsoleLink>;

/** What the person chose at the console, done by bay0: null when done, else why not (shown on the dashboard). */
export async function consoleAction(
  rooms: Rooms | null,
  vault: Vault | null,
  action: Action,
  room: string | null,
): Promise<string | null> {
  if (action === "lock-vault") return vault === null ? "this machine has no vault" : vault.lock("dashboard");
  if (action === "recovery-key") return vault === null ? "this machine has no vault" : vault.newRecoveryKey();
  if (rooms === null) return "rooms are unavailable";
  if (room === null) return "no room named";
  const { supervisor, policies } = rooms;
  switch (action) {
    case "start": {
      const policy = policies.get(room);
      if (policy === undefined) return `no valid policy named '${room}'`;
      const started = await supervisor.start(policy);
      return started.ok ? null : started.reason;
    }
    case "reset": {
      const reset = await supervisor.reset(room);
      return reset.ok ? null : reset.reason;
    }
    case "kill":
      return (await supervisor.kill(room)) ? null : `${room} is not running`;
    case "freeze":
    case "thaw":
      return supervisor.freeze(room, action === "freeze")
        ? null
        : `${room} could not be ${action === "freeze" ? "frozen" : "thawed"}`;
  }
}
