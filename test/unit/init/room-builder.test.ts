import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { startRoomBuilder } from "../../../init/room-builder.ts";
import { policySchema } from "../../../policies/schema.ts";
import type { BuilderReply, BuilderRequest } from "../../../rooms/builder-protocol.ts";
import { planRoom } from "../../../rooms/plan.ts";
import { FakeLibc } from "../../../sys/libc-fake.ts";
import { createLog, type LogRecord } from "../../../sys/log.ts";
import { memorySink } from "../memory-sink.ts";
import { fakeResidents } from "./fake-residents.ts";

const policy = (name: string) => policySchema.parse({ name, image: "minimal", command: ["/bin/sh"] });

function setup() {
  const records: LogRecord[] = [];
  const { spawner, helpers } = fakeResidents<BuilderRequest, BuilderReply>();
  const libc = new FakeLibc();
  const builder = startRoomBuilder({ libc, log: createLog([memorySink(records)]), spawner, now: () => 0 });
  return { builder, helpers, records, libc };
}

describe("bay0's side of the room builder", () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it("starts `bay0 builder` as root and matches each answer to its request by id, whatever the order", async () => {
    const { builder, helpers } = setup();
    expect(helpers[0]).toMatchObject({ argv: [expect.stringMatching(/bay0$/), "builder"], user: undefined });
    const parent = planRoom(policy("work"));
    const kid = planRoom(policy("kid"), parent);
    const first = builder.prepare(parent);
    const second = builder.prepare(kid);
    expect(helpers[0]?.written).toEqual([
      { id: 1, do: "prepare", room: "work", policy: parent.policy, parent: null },
      { id: 2, do: "prepare", room: "work/kid", policy: kid.policy, parent: { id: "work", depth: 0 } },
    ]);
    helpers[0]?.say({ id: 2, error: "overlay on /run/rooms/work--kid/rootfs: EINVAL" });
    helpers[0]?.say({ id: 1, error: null });
    expect(await first).toBeNull();
    expect(await second).toBe("overlay on /run/rooms/work--kid/rootfs: EINVAL");
  });

  it("fails the starts a dying builder was building, asks the next one to take away what it was taking away", async () => {
    const { builder, helpers, records } = setup();
    const plan = planRoom(policy("web"));
    const prepared = builder.prepare(plan);
    const tornDown = builder.teardown(plan);
    helpers[0]?.end({ status: null, signal: "SIGKILL" });
    expect(await prepared).toBe("the room builder ended while building the room");
    expect(records.find((r) => r.event === "builder.restarted")).toMatchObject({ reason: "SIGKILL" });
    // Asked while none runs: it waits for the next builder.
    const later = builder.teardown(plan);
    await vi.advanceTimersByTimeAsync(500);
    expect(helpers[1]?.written.map((r) => [r.id, r.do])).toEqual([
      [2, "teardown"],
      [3, "teardown"],
    ]);
    helpers[1]?.say({ id: 2, error: null });
    helpers[1]?.say({ id: 3, error: null });
    expect([await tornDown, await later]).toEqual([null, null]);
  });

  it("kills a builder that does not answer in time, and answers at once once the machine shuts down", async () => {
    const { builder, helpers, libc } = setup();
    const plan = planRoom(policy("web"));
    const stalled = builder.prepare(plan);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(await stalled).toBe("the room builder did not answer within 30 s");
    expect(libc.calls).toContainEqual({ fn: "kill", args: [201, 9] });
    builder.stopRestarting();
    const pending = builder.teardown(plan);
    helpers[0]?.end({ status: null, signal: "SIGKILL" });
    expect(await pending).toBe("the machine is shutting down");
    expect(await builder.teardown(plan)).toBe("the machine is shutting down");
    await vi.advanceTimersByTimeAsync(60_000);
    expect(helpers).toHaveLength(1);
  });

  it("kills the builder it asked when it is late; once shutting down, answers what waits for a builder that will not come", async () => {
    const { builder, helpers, libc } = setup();
    const plan = planRoom(policy("web"));
    helpers[0]?.end({ status: null, signal: "SIGKILL" });
    await vi.advanceTimersByTimeAsync(0);
    // Asked while none runs; the next one starts after half a second and is asked then.
    const late = builder.prepare(plan);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(await late).toBe("the room builder did not answer within 30 s");
    expect(libc.calls.filter((c) => c.fn === "kill")).toEqual([{ fn: "kill", args: [202, 9] }]);
    helpers[1]?.end({ status: null, signal: "SIGKILL" });
    await vi.advanceTimersByTimeAsync(0);
    const waiting = builder.teardown(plan);
    builder.stopRestarting();
    expect(await waiting).toBe("the machine is shutting down");
    await vi.advanceTimersByTimeAsync(60_000);
    expect(helpers).toHaveLength(2);
  });
});
