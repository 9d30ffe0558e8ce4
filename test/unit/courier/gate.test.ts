import { describe, expect, it } from "vitest";
import { QUEUE_LIMIT } from "../../../courier/arbiter.ts";
import { COOLDOWN_MAX_MS, createCourierGate } from "../../../courier/gate.ts";

describe("createCourierGate", () => {
  it("takes one transfer per room, and the one being decided plus QUEUE_LIMIT waiting", () => {
    const gate = createCourierGate(() => 0);
    expect(gate.admit("web")).toBeNull();
    expect(gate.admit("web")).toBe("a transfer of web is already waiting; one at a time");
    for (let i = 0; i < QUEUE_LIMIT; i++) expect(gate.admit(`room${i}`)).toBeNull();
    expect(gate.admit("late")).toBe(`${QUEUE_LIMIT} transfers are already waiting`);
    gate.settle("room0", "refused");
    expect(gate.admit("late")).toBeNull();
  });

  it("cools a room down after each denial, twice as long each time, until an approval", () => {
    const clock = { ms: 0 };
    const gate = createCourierGate(() => clock.ms);
    const deny = (): void => {
      expect(gate.admit("web")).toBeNull();
      gate.settle("web", "denied");
    };
    deny();
    expect(gate.admit("web")).toBe("the person denied web's last transfer; ask again in 5 s");
    expect(gate.admit("work")).toBeNull();
    clock.ms += 5_000;
    deny();
    clock.ms += 9_999;
    expect(gate.admit("web")).toMatch(/ask again in 1 s$/);
    clock.ms += 1;
    deny();
    expect(gate.admit("web")).toMatch(/ask again in 20 s$/);
    for (let i = 0; i < 10; i++) {
      clock.ms += COOLDOWN_MAX_MS;
      deny();
    }
    expect(gate.admit("web")).toMatch(/ask again in 300 s$/);
    clock.ms += COOLDOWN_MAX_MS;
    expect(gate.admit("web")).toBeNull();
    gate.settle("web", "approved");
    deny();
    expect(gate.admit("web")).toMatch(/ask again in 5 s$/);
  });

  it("does not cool down a room whose request bay0 refused without asking", () => {
    const gate = createCourierGate(() => 0);
    expect(gate.admit("web")).toBeNull();
    gate.settle("web", "refused");
    expect(gate.admit("web")).toBeNull();
  });
});
