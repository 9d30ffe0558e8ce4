import { constants, openSync, readdirSync } from "node:fs";

export type InputEvent = { type: number; code: number; value: number };

export const EV_KEY = 1;
export const KEY_POWER = 116;

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

/**
 * Streams events from every /dev/input/event* device. Reads go through
 * non-blocking fds with Bun.file().stream(), which holds no thread-pool thread
 * while waiting (blocking fs reads starve every other fs call in bay0).
 * Returns the devices opened.
 */
export function watchInputDevices(
  onEvent: (device: string, event: InputEvent) => void,
  onError: (device: string, error: unknown) => void,
  dir = "/dev/input",
): string[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.startsWith("event"));
  } catch {
    return [];
  }
  const opened: string[] = [];
  for (const name of names.sort()) {
    const device = `${dir}/${name}`;
    try {
      const fd = openSync(device, constants.O_RDONLY | constants.O_NONBLOCK);
      opened.push(device);
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
      })().catch((error: unknown) => onError(device, error));
    } catch (error) {
      onError(device, error);
    }
  }
  return opened;
}
