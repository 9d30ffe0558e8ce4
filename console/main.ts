/**
 * The trusted console helper (`bay0 console`): bay0 starts it at boot and
 * again whenever it dies, as a user of its own (CONSOLE_USER) that may open
 * nothing of the machine's: bay0 opens the framebuffer and the input devices
 * and sends them, as it sends rooms' terminals. It grabs the keyboards, draws
 * the dashboard, the launcher, the prompts and the rooms' terminals, and
 * asks bay0 (init/console-link.ts) to act on what the person chose. It talks
 * only to bay0: JSON lines on stdin and stdout (console/protocol.ts), the
 * file descriptors on fd 3.
 */
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { EVIOCGRAB, inputDeviceName, readInputDevice } from "../sys/evdev.ts";
import { FRAMEBUFFER } from "../sys/framebuffer.ts";
import { framebufferOn } from "../sys/framebuffer-draw.ts";
import { parseJsonOrNull } from "../sys/files.ts";
import { openHelperLibc } from "../sys/libc-helper.ts";
import { createLineSplitter } from "../sys/lines.ts";
import { createLog } from "../sys/log.ts";
import { ptyIo } from "../sys/pty.ts";
import { createConsole, type ConsoleRooms } from "./console.ts";
import { CONSOLE_FONT, parsePsf2 } from "./font.ts";
import { createInputRouter } from "./input.ts";
import type { Action, FromConsole } from "./protocol.ts";
import { roomUsage } from "./room-usage.ts";
import { toConsoleSchema, type RoomSnapshot, type ToConsole } from "./to-console.ts";

const REFRESH_MS = 500;
const ALIVE_MS = 1000;
/** The channel on which bay0 sends what it opened for this console: the screen, the keyboards, rooms' terminals. */
const CHANNEL = 3;

const send = (message: FromConsole): void => void process.stdout.write(`${JSON.stringify(message)}\n`);

export function runConsole(): void {
  const libc = openHelperLibc();
  const log = createLog([(line) => void process.stdout.write(`${line}\n`)]);
  let state: { rooms: RoomSnapshot[]; policies: string[]; vault: string; watchdog: string } = {
    rooms: [],
    policies: [],
    vault: "",
    watchdog: "",
  };
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
    snapshot: () => state.rooms.map(({ node, ...room }) => ({ ...room, usage: roomUsage(node) })),
    start: (name) => outcome("start", name),
    kill: (id) => ok("kill", id),
    reset: (id) => outcome("reset", id),
    freeze: (id, frozen) => ok(frozen ? "freeze" : "thaw", id),
  };

  let trusted: ReturnType<typeof createConsole> | null = null;
  const route = createInputRouter({
    power: (device) => send({ type: "power", device }),
    ctrlAltDel: (device) => send({ type: "ctrl-alt-del", device }),
    key: (key) => trusted?.key(key),
  });
  /** An fd bay0 sent on the channel just before the line naming it. */
  const received = (what: string): number | null => {
    const fd = libc.receiveFd(CHANNEL);
    if (fd.ok) return fd.value;
    log.warn("console.error", { where: what, error: fd.message });
    return null;
  };
  /** Takes the screen bay0 opened: the font, the dashboard, redrawn twice a second. */
  const takeScreen = (fd: number, device: string, vt: string): void => {
    let surface;
    let font;
    try {
      surface = framebufferOn(fd, { ...FRAMEBUFFER, device });
      font = parsePsf2(gunzipSync(readFileSync(CONSOLE_FONT)));
    } catch (error) {
      log.warn("console.absent", { reason: error instanceof Error ? error.message : String(error) });
      return;
    }
    const shown = createConsole({
      log,
      terminals: ptyIo(libc),
      surface,
      font,
      watchdog: () => state.watchdog,
      vault: {
        state: () => state.vault,
        lock: () => act("lock-vault", null),
        newRecoveryKey: () => act("recovery-key", null),
      },
      rooms,
      now: () => new Date(),
      clockMs: () => performance.now(),
    });
    trusted = shown;
    shown.refresh();
    setInterval(() => {
      try {
        shown.refresh();
      } catch (error) {
        log.error("console.error", { where: "refresh", error: String(error) });
      }
    }, REFRESH_MS);
    log.info("console.ready", {
      device: surface.device,
      width: surface.width,
      height: surface.height,
      font: "spleen-16x32",
      cell_width: font.width,
      cell_height: font.height,
      cols: shown.cols,
      rows: shown.rows,
      vt,
      uid: process.getuid?.() ?? null,
    });
  };
  setInterval(() => send({ type: "alive" }), ALIVE_MS);

  const handle = (message: ToConsole): void => {
    switch (message.type) {
      case "screen": {
        const fd = received("screen");
        if (fd !== null) takeScreen(fd, message.device, message.vt);
        return send({ type: "hello", screen: trusted !== null });
      }
      case "no-screen":
        log.warn("console.absent", { reason: message.reason });
        return send({ type: "hello", screen: false });
      case "input": {
        const fd = received("input");
        if (fd === null) return;
        // Grabbed, no key reaches anything but this console: not the kernel's VT, not a room.
        const grabbed = libc.ioctl(fd, EVIOCGRAB, 1);
        log.info("input.grabbed", {
          device: message.device,
          name: inputDeviceName(message.device),
          ok: grabbed.ok,
          ...(grabbed.ok ? {} : { error: grabbed.message }),
        });
        void readInputDevice(fd, (event) => route(message.device, event)).catch((error: unknown) =>
          log.warn("input.error", { device: message.device, error: String(error) }),
        );
        return;
      }
      case "state":
        state = message;
        return;
      case "record":
        return trusted?.record(message.record);
      case "ask":
        void trusted?.ask(message.request).then((answer) => send({ type: "answer", id: message.id, answer }));
        return;
      case "terminal": {
        const fd = received("terminal");
        if (fd === null) return;
        if (trusted === null) return void libc.close(fd);
        return trusted.attach(message.room, fd);
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
    if (!message.success)
      return log.warn("console.error", { where: "channel", error: message.error.issues[0]?.message ?? "invalid" });
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
