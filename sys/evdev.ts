import { constants, openSync, readdirSync } from "node:fs";
import { readTextOrNull } from "./files.ts";

export type InputEvent = { type: number; code: number; value: number };

export const EV_KEY = 1;
export const KEY_POWER = 116;

/** linux/input.h: EVIOCGRAB, with 1 the fd becomes the device's only reader. */
export const EVIOCGRAB = 0x40044590;

const EVENT_BYTES = 24;

/** Decodes whole `struct input_event`s (i64 sec, i64 usec, u16 type, u16 code, i32 value). */
export function parseInputEvents(bytes: Uint8Array): { events: InputEvent[]; rest: Uint8Array } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const events: InputEvent[] = [];
  let offset = 0;
  for (; offset + EVENT_BYTES <= bytes.byteLength; offset += EVENT_BYTES) {
    events.push({
      type: view.getUint16(offset + 16, true),
      code: view.getUint16(offset + 18, true),
      value: view.getInt32(offset + 20, true),
    });
  }
  return { events, rest: bytes.slice(offset) };
}

export type InputWatch = {
  /** Devices opened so far. */
  devices: () => string[];
  /** Opens devices that appeared since the last look (hot-plug); returns the new ones. */
  rescan: () => string[];
};

/** The kernel's name for an input device ("AT Translated Set 2 keyboard"), from sysfs. */
export function inputDeviceName(device: string, sysfs = "/sys/class/input"): string {
  return (readTextOrNull(`${sysfs}/${device.split("/").pop() ?? ""}/device/name`) ?? "").trim();
}

/**
 * Streams events from every /dev/input/event* device, and from devices that
 * appear later (rescan). Reads go through non-blocking fds with
 * Bun.file().stream(), which holds no thread-pool thread while waiting
 * (blocking fs reads starve every other fs call in bay0). `onOpen` sees each
 * new fd first (bay0 grabs keyboards there).
 */
export function watchInputDevices(
  onEvent: (device: string, event: InputEvent) => void,
  onError: (device: string, error: unknown) => void,
  onOpen: (device: string, fd: number) => void = () => undefined,
  dir = "/dev/input",
): InputWatch {
  const opened = new Set<string>();
  /** Devices that could not be opened: reported once, not at every rescan. */
  const refused = new Set<string>();
  const open = (device: string): boolean => {
    try {
      const fd = openSync(device, constants.O_RDONLY | constants.O_NONBLOCK);
      opened.add(device);
      onOpen(device, fd);
      void (async () => {
        let pending: Uint8Array = new Uint8Array(0);
        for await (const chunk of Bun.file(fd).stream()) {
          const joined = new Uint8Array(pending.length + chunk.length);
          joined.set(pending);
          joined.set(chunk, pending.length);
          const { events, rest } = parseInputEvents(joined);
          pending = rest;
          for (const event of events) onEvent(device, event);
        }
      })()
        .catch((error: unknown) => onError(device, error))
        .finally(() => opened.delete(device));
      return true;
    } catch (error) {
      refused.add(device);
      onError(device, error);
      return false;
    }
  };
  const rescan = (): string[] => {
    let names: string[];
    try {
      names = readdirSync(dir).filter((n) => n.startsWith("event"));
    } catch {
      return [];
    }
    return names
      .sort()
      .map((n) => `${dir}/${n}`)
      .filter((device) => !opened.has(device) && !refused.has(device) && open(device));
  };
  rescan();
  return { devices: () => [...opened], rescan };
}
