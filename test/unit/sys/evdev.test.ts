import { describe, expect, it } from "vitest";
import { EV_KEY, KEY_POWER, parseInputEvents } from "../../../sys/evdev.ts";

function event(type: number, code: number, value: number): Uint8Array {
  const bytes = new Uint8Array(24);
  const view = new DataView(bytes.buffer);
  view.setBigInt64(0, 1700000000n, true);
  view.setBigInt64(8, 5n, true);
  view.setUint16(16, type, true);
  view.setUint16(18, code, true);
  view.setInt32(20, value, true);
  return bytes;
}

describe("parseInputEvents", () => {
  it("decodes whole events and keeps a partial one for the next read", () => {
    const joined = new Uint8Array(24 * 2 + 10);
    joined.set(event(EV_KEY, KEY_POWER, 1));
    joined.set(event(0, 0, 0), 24);
    const { events, rest } = parseInputEvents(joined);
    expect(events).toEqual([
      { type: EV_KEY, code: KEY_POWER, value: 1 },
      { type: 0, code: 0, value: 0 },
    ]);
    expect(rest.length).toBe(10);
  });
});
