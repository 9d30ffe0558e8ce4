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

/** The kernel's name for an input device ("AT Translated Set 2 keyboard"), from sysfs. */
export function inputDeviceName(device: string, sysfs = "/sys/class/input"): string {
  return (readTextOrNull(`${sysfs}/${device.split("/").pop() ?? ""}/device/name`) ?? "").trim();
}

/**
 * Streams events from an open evdev device until it is gone. Reads go
 * through the non-blocking fd with Bun.file().stream(), which holds no
 * thread-pool thread while waiting.
 */
export async function readInputDevice(fd: number, onEvent: (event: InputEvent) => void): Promise<void> {
  let pending: Uint8Array = new Uint8Array(0);
  for await (const chunk of Bun.file(fd).stream()) {
    const joined = new Uint8Array(pending.length + chunk.length);
    joined.set(pending);
    joined.set(chunk, pending.length);
    const { events, rest } = parseInputEvents(joined);
    pending = rest;
    for (const event of events) onEvent(event);
  }
}
