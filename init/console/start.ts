import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import type { Policy } from "../../policies/schema.ts";
import type { RoomSupervisor } from "../../rooms/supervisor.ts";
import { openFramebuffer } from "../../sys/framebuffer.ts";
import { ptyIo } from "../../sys/pty.ts";
import type { Libc } from "../../sys/libc.ts";
import type { Log } from "../../sys/log.ts";
import { createConsole } from "./console.ts";
import { parsePsf2 } from "./font.ts";

/** Debian's fonts-spleen 16x32 (BSD-2-Clause), carried in the initramfs. */
export const CONSOLE_FONT = "/usr/share/consolefonts/spleen-16x32.psfu.gz";
const REFRESH_MS = 500;
const KDSETMODE = 0x4b3a;
const KD_GRAPHICS = 1;

export type TrustedConsole = ReturnType<typeof createConsole>;

/**
 * Takes the screen for bay0: opens the framebuffer, switches the kernel's
 * virtual terminal to graphics mode (no kernel text can draw over it), loads
 * the font, and redraws the dashboard twice a second. Returns null, after
 * logging `console.absent` with the reason, on a machine without a screen:
 * everything else carries on as before.
 */
export function startConsole(deps: {
  libc: Libc;
  log: Log;
  supervisor: RoomSupervisor | null;
  policies: Map<string, Policy>;
  watchdog: () => string;
  vault: { state(): string; lock(): Promise<string | null>; newRecoveryKey(): Promise<string | null> };
  openTty: () => number | null;
}): TrustedConsole | null {
  const { log } = deps;
  let surface;
  let font;
  try {
    surface = openFramebuffer();
    font = parsePsf2(gunzipSync(readFileSync(CONSOLE_FONT)));
  } catch (error) {
    log.warn("console.absent", { reason: error instanceof Error ? error.message : String(error) });
    return null;
  }
  const tty = deps.openTty();
  const graphics = tty === null ? null : deps.libc.ioctl(tty, KDSETMODE, KD_GRAPHICS);
  const supervisor = deps.supervisor;
  const trusted = createConsole({
    log,
    terminals: ptyIo(deps.libc),
    surface,
    font,
    watchdog: deps.watchdog,
    vault: deps.vault,
    now: () => new Date(),
    clockMs: () => performance.now(),
    rooms: {
      policies: () => [...deps.policies.keys()],
      snapshot: () => supervisor?.snapshot() ?? [],
      start: async (name) => {
        const policy = deps.policies.get(name);
        if (!policy) return { ok: false, reason: `no valid policy named '${name}'` };
        if (!supervisor) return { ok: false, reason: "rooms are unavailable" };
        return supervisor.start(policy);
      },
      kill: (id) => supervisor?.kill(id) ?? Promise.resolve(false),
      reset: (id) => supervisor?.reset(id) ?? Promise.resolve({ ok: false, reason: "rooms are unavailable" }),
      freeze: (id, frozen) => supervisor?.freeze(id, frozen) ?? false,
    },
  });
  supervisor?.onTerminal(trusted.attach);
  trusted.refresh();
  setInterval(() => {
    try {
      supervisor?.onTerminal(trusted.attach);
  trusted.refresh();
    } catch (error) {
      log.error("bay0.error", { where: "console.refresh", error: String(error) });
    }
  }, REFRESH_MS);
  log.info("console.ready", {
    device: surface.device,
    width: surface.width,
    height: surface.height,
    font: "spleen-16x32",
    cell_width: font.width,
    cell_height: font.height,
    cols: trusted.cols,
    rows: trusted.rows,
    vt: graphics === null ? "none" : graphics.ok ? "graphics" : `failed: ${graphics.message}`,
  });
  return trusted;
}
