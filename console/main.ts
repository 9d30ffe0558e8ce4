/**
 * The trusted console helper (`bay0 console`): bay0 starts it at boot and
 * again whenever it dies. It grabs the keyboards, takes the framebuffer,
 * draws the dashboard, the launcher, the prompts and the rooms' terminals,
 * and asks bay0 (init/console-link.ts) to act on what the person chose. It
 * talks only to bay0: JSON lines on stdin and stdout (console/protocol.ts),
 * the rooms' terminals on fd 3.
 */
import { constants, openSync, readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { EVIOCGRAB, inputDeviceName, watchInputDevices } from "../sys/evdev.ts";
import { openFramebuffer } from "../sys/framebuffer.ts";
import { parseJsonOrNull } from "../sys/files.ts";
import { openLibc } from "../sys/libc-ffi.ts";
import { createLineSplitter } from "../sys/lines.ts";
import { createLog, type Log } from "../sys/log.ts";
import { ptyIo } from "../sys/pty.ts";
import type { Libc } from "../sys/libc.ts";
import { createConsole, type ConsoleRooms } from "./console.ts";
import { CONSOLE_FONT, parsePsf2 } from "./font.ts";
import { createInputRouter } from "./input.ts";
import { toConsoleSchema, type Action, type FromConsole, type RoomSnapshot, type ToConsole } from "./protocol.ts";

const REFRESH_MS = 500;
const ALIVE_MS = 1000;
const INPUT_RESCAN_MS = 2000;
const KDSETMODE = 0x4b3a;
const KD_GRAPHICS = 1;
/** bay0's end of the channel for rooms' terminals. */
const TERMINAL_CHANNEL = 3;

const send = (message: FromConsole): void => void process.stdout.write(`${JSON.stringify(message)}\n`);

/** Grabs every keyboard (no key reaches the kernel's VT or a room) and routes the power button and Ctrl-Alt-Del to bay0. */
function watchInput(libc: Libc, log: Log, key: Parameters<typeof createInputRouter>[0]["key"]): void {
  const route = createInputRouter({ power: (device) => send({ type: "power", device }), ctrlAltDel: (device) => send({ type: "ctrl-alt-del", device }), key });
  const grab = (device: string, fd: number): void => {
    const grabbed = libc.ioctl(fd, EVIOCGRAB, 1);
    log.info("input.grabbed", { device, name: inputDeviceName(device), ok: grabbed.ok, ...(grabbed.ok ? {} : { error: grabbed.message }) });
  };
  const guarded = (where: string, fn: () => void): void => {
    try {
      fn();
    } catch (error) {
      log.error("console.error", { where, error: String(error) });
    }
  };
  const input = watchInputDevices((device, event) => guarded("input", () => route(device, event)), (device, error) => log.warn("input.error", { device, error: String(error) }), grab);
  log.info("input.watching", { devices: input.devices() });
  setInterval(() => guarded("input.rescan", () => input.rescan()), INPUT_RESCAN_MS);
}

/** Takes the screen: the framebuffer, the kernel's VT in graphics mode (no kernel text draws over it), the font. Null, logged, without one. */
function takeScreen(libc: Libc, log: Log) {
  try {
    const surface = openFramebuffer();
    const font = parsePsf2(gunzipSync(readFileSync(CONSOLE_FONT)));
    let vt = "none";
    try {
      const graphics = libc.ioctl(openSync("/dev/tty0", constants.O_RDWR | constants.O_NOCTTY), KDSETMODE, KD_GRAPHICS);
      vt = graphics.ok ? "graphics" : `failed: ${graphics.message}`;
    } catch {
      // No VT: nothing else draws on the framebuffer either.
    }
    return { surface, font, vt };
  } catch (error) {
    log.warn("console.absent", { reason: error instanceof Error ? error.message : String(error) });
    return null;
  }
}

export function runConsole(): void {
  const libc = openLibc();
  const log = createLog([(line) => void process.stdout.write(`${line}\n`)]);
  let state: { rooms: RoomSnapshot[]; policies: string[]; vault: string; watchdog: string } = { rooms: [], policies: [], vault: "", watchdog: "" };
  let nextId = 1;
  const acting = new Map<number, (reason: string | null) => void>();
  const act = (action: Action, room: string | null): Promise<string | null> =>
    new Promise((resolve) => {
      const id = nextId++;
      acting.set(id, resolve);
      send({ type: "act", id, action, room });
    });
  const ok = async (action: Action, room: string): Promise<boolean> => (await act(action, room)) === null;
  const outcome = async (action: Action, room: string): Promise<{ ok: boolean; reason?: string }> => {
    const reason = await act(action, room);
    return reason === null ? { ok: true } : { ok: false, reason };
  };
  const rooms: ConsoleRooms = {
    policies: () => state.policies,
    snapshot: () => state.rooms,
    start: (name) => outcome("start", name),
    kill: (id) => ok("kill", id),
    reset: (id) => outcome("reset", id),
    freeze: (id, frozen) => ok(frozen ? "freeze" : "thaw", id),
  };

  let trusted: ReturnType<typeof createConsole> | null = null;
  watchInput(libc, log, (key) => trusted?.key(key));
  const screen = takeScreen(libc, log);
  if (screen !== null) {
    trusted = createConsole({
      log,
      terminals: ptyIo(libc),
      surface: screen.surface,
      font: screen.font,
      watchdog: () => state.watchdog,
      vault: { state: () => state.vault, lock: () => act("lock-vault", null), newRecoveryKey: () => act("recovery-key", null) },
      rooms,
      now: () => new Date(),
      clockMs: () => performance.now(),
    });
    const shown = trusted;
    shown.refresh();
    setInterval(() => {
      try {
        shown.refresh();
      } catch (error) {
        log.error("console.error", { where: "refresh", error: String(error) });
      }
    }, REFRESH_MS);
    const { surface, font, vt } = screen;
    log.info("console.ready", { device: surface.device, width: surface.width, height: surface.height, font: "spleen-16x32", cell_width: font.width, cell_height: font.height, cols: shown.cols, rows: shown.rows, vt });
  }
  send({ type: "hello", screen: trusted !== null });
  setInterval(() => send({ type: "alive" }), ALIVE_MS);

  const handle = (message: ToConsole): void => {
    switch (message.type) {
      case "state":
        state = message;
        return;
      case "record":
        return trusted?.record(message.record);
      case "ask":
        void trusted?.ask(message.request).then((answer) => send({ type: "answer", id: message.id, answer }));
        return;
      case "terminal": {
        // bay0 sent the fd before this line: it is waiting on the channel.
        const received = libc.receiveFd(TERMINAL_CHANNEL);
        if (!received.ok) return log.warn("console.error", { where: "terminal", room: message.room, error: received.message });
        if (trusted === null) return void libc.close(received.value);
        return trusted.attach(message.room, received.value);
      }
      case "acted": {
        const resolve = acting.get(message.id);
        acting.delete(message.id);
        return resolve?.(message.reason);
      }
    }
  };
  const lines = createLineSplitter((line) => {
    const message = toConsoleSchema.safeParse(parseJsonOrNull(line));
    if (!message.success) return log.warn("console.error", { where: "channel", error: message.error.issues[0]?.message ?? "invalid" });
    try {
      handle(message.data);
    } catch (error) {
      log.error("console.error", { where: message.data.type, error: String(error) });
    }
  }, 1 << 20);
  void (async () => {
    for await (const chunk of Bun.stdin.stream()) lines.push(chunk);
    // bay0 closed the channel: it is shutting down, or it let this console go.
    process.exit(0);
  })();
}
