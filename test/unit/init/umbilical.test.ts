import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { startUmbilical } from "../../../init/umbilical.ts";
import { planRoom } from "../../../rooms/plan.ts";
import type { RoomSupervisor } from "../../../rooms/supervisor.ts";
import { policySchema } from "../../../policies/schema.ts";
import { FakeLibc } from "../../../sys/libc-fake.ts";
import { createLog, type LogRecord } from "../../../sys/log.ts";
import { memorySink } from "../memory-sink.ts";
import type { FromUmbilical } from "../../../umbilical/channel.ts";
import type { ToUmbilical } from "../../../umbilical/to-umbilical.ts";
import { fakeResidents } from "./fake-residents.ts";

const policy = (name: string, allow: string[]) =>
  policySchema.parse({ name, image: "minimal", command: ["/bin/sh"], umbilical: { allow } });

function setup() {
  const records: LogRecord[] = [];
  const { spawner, helpers: servers } = fakeResidents<ToUmbilical, FromUmbilical>();
  const spawned: string[] = [];
  const supervisor = {
    snapshot: () => [{ id: "notes", frozen: false, uptimeMs: 1500 }],
    spawnChild: async (parent: string, child: { name: string }) => {
      spawned.push(`${parent}/${child.name}`);
      return { ok: true, plan: { id: `${parent}/${child.name}` } };
    },
  } as unknown as RoomSupervisor;
  const umbilical = startUmbilical({
    libc: new FakeLibc(),
    log: createLog([memorySink(records)]),
    spawner,
    now: () => 0,
    supervisor: () => supervisor,
    courier: async (sender, path) => ({ ok: true, delivered: { from: sender.id, path } }),
  });
  return { umbilical, servers, records, spawned };
}

/** The replies bay0 wrote to a server, by request id. */
const replies = (written: ToUmbilical[]) =>
  Object.fromEntries(written.flatMap((m) => (m.type === "reply" ? [[m.id, m.reply]] : [])));

describe("bay0's side of the umbilical", () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it("starts `bay0 umbilical` as its own user and waits until the server listens in a room's socket directory", async () => {
    const { umbilical, servers } = setup();
    expect(servers[0]).toMatchObject({ argv: [expect.stringMatching(/bay0$/), "umbilical"], user: { uid: 991 } });
    const plan = planRoom(policy("notes", ["room.status"]));
    const opened = umbilical.open(plan);
    expect(servers[0]?.written).toEqual([
      { type: "open", room: "notes", dir: "/run/umbilical/notes", allow: ["room.status"] },
    ]);
    servers[0]?.say({ type: "listening", room: "notes", error: "EADDRINUSE" });
    expect(await opened).toBe("EADDRINUSE");
    // A room without grants has no socket at all.
    expect(await umbilical.open(planRoom(policy("quiet", [])))).toBeNull();
    expect(servers[0]?.written).toHaveLength(1);
  });

  it("decides what the server forwards: only an open room's granted requests, a nested policy validated again", async () => {
    const { umbilical, servers, records, spawned } = setup();
    const server = servers[0];
    const opened = umbilical.open(planRoom(policy("notes", ["room.status", "room.spawn"])));
    server?.say({ type: "listening", room: "notes", error: null });
    expect(await opened).toBeNull();
    const ask = (id: number, room: string, request: Extract<FromUmbilical, { type: "request" }>["request"]) =>
      server?.say({ type: "request", id, room, pid: 77, request });
    ask(1, "notes", { type: "room.status" });
    ask(2, "notes", { type: "courier.send", path: "/a" });
    ask(3, "elsewhere", { type: "room.status" });
    ask(4, "notes", { type: "room.spawn", policy: { name: "kid", image: 7 } });
    ask(5, "notes", { type: "room.spawn", policy: { name: "kid", image: "minimal", command: ["/bin/true"] } });
    await vi.runOnlyPendingTimersAsync();
    const got = replies(server?.written ?? []);
    expect(got[1]).toMatchObject({ ok: true, room: "notes", state: "running", uptime_ms: 1500 });
    expect(got[2]).toMatchObject({ ok: false, error: { code: "not_allowed" } });
    expect(got[3]).toMatchObject({ ok: false, error: { code: "unavailable" } });
    expect(got[4]).toMatchObject({ ok: false, error: { code: "malformed" } });
    expect(got[5]).toEqual({ ok: true, room: "notes/kid" });
    expect(spawned).toEqual(["notes/kid"]);
    const logged = records.filter((r) => r.event === "umbilical.request").map((r) => `${r.type} ${r.ok} ${r.pid}`);
    expect(logged.sort()).toEqual([
      "courier.send false 77",
      "room.spawn false 77",
      "room.spawn true 77",
      "room.status false 77",
      "room.status true 77",
    ]);
  });

  it("starts a server that died again and gives it every open room; a closed room is forgotten", async () => {
    const { umbilical, servers, records } = setup();
    const notes = planRoom(policy("notes", ["room.status"]));
    const other = planRoom(policy("other", ["room.status"]));
    const first = Promise.all([umbilical.open(notes), umbilical.open(other)]);
    servers[0]?.say({ type: "listening", room: "notes", error: null });
    servers[0]?.say({ type: "listening", room: "other", error: null });
    await first;
    umbilical.close(other);
    expect(servers[0]?.written.at(-1)).toEqual({ type: "close", room: "other" });
    servers[0]?.end({ status: null, signal: "SIGSEGV" });
    await vi.advanceTimersByTimeAsync(500);
    expect(records.find((r) => r.event === "umbilical.restarted")).toMatchObject({ reason: "SIGSEGV" });
    expect(servers[1]?.written).toEqual([
      { type: "open", room: "notes", dir: "/run/umbilical/notes", allow: ["room.status"] },
    ]);
    // A reply of the dead server's is no one's: the new one's requests are answered.
    servers[1]?.say({ type: "request", id: 9, room: "notes", pid: null, request: { type: "room.status" } });
    await vi.runOnlyPendingTimersAsync();
    expect(replies(servers[1]?.written ?? [])[9]).toMatchObject({ ok: true });
    umbilical.stopRestarting();
    servers[1]?.end({ status: 0, signal: null });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(servers).toHaveLength(2);
  });
});
