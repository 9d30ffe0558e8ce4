import { describe, expect, it } from "vitest";
import { toConsoleSchema } from "../../../console/to-console.ts";

describe("what bay0 tells the console helper", () => {
  it("takes the id of a room nested five deep under names of 31 characters (191 characters)", () => {
    const id = Array.from({ length: 6 }, (_, i) => `${String.fromCharCode(97 + i)}${"x".repeat(30)}`).join("/");
    expect(id).toHaveLength(191);
    const room = { id, started: true, frozen: false, uptimeMs: 1, node: `/rooms/${id}` };
    const state = { type: "state", rooms: [room], policies: [], vault: "open", watchdog: "armed, 30 s" };
    expect(toConsoleSchema.safeParse(state).success).toBe(true);
    expect(toConsoleSchema.safeParse({ type: "terminal", room: id }).success).toBe(true);
  });
});
