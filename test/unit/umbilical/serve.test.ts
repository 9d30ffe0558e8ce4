import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inBun } from "../../qemu/in-bun.ts";
import { ROOT } from "../../qemu/paths.ts";

/**
 * The umbilical's server (umbilical/serve.ts) on a real Unix socket, in a
 * Bun process of its own (Bun.listen): a fake bay0 behind it that answers
 * what it forwards, real clients in front. The script prints what each
 * client got, what bay0 was asked, and the server's log records.
 */
const script = (dir: string): string => `
  import { createServer } from ${JSON.stringify(join(ROOT, "umbilical", "serve.ts"))};
  import { createLog } from ${JSON.stringify(join(ROOT, "sys", "log.ts"))};
  import { memorySink } from ${JSON.stringify(join(ROOT, "test", "unit", "memory-sink.ts"))};
  import { frameReader } from ${JSON.stringify(join(ROOT, "umbilical", "protocol.ts"))};
  const records = [];
  const path = ${JSON.stringify(join(dir, "umbilical"))};
  const forwarded = [];
  let deliver = () => undefined;
  const bay0 = (room, pid, request) => {
    forwarded.push({ room, pid, request });
    if (request.type === "room.status") return Promise.resolve({ ok: true, room, state: "running", uptime_ms: 1234 });
    if (request.type === "room.spawn") return Promise.resolve({ ok: true, room: room + "/" + request.policy.name });
    return new Promise((resolve) => (deliver = () => resolve({ ok: true, delivered: { to: room, path: "/inbox/" + request.path, size: 1, sha256: "00" } })));
  };
  const server = createServer(createLog([memorySink(records)]), bay0, () => 4242);
  const until = async (done) => { for (let i = 0; i < 400 && !done(); i++) await Bun.sleep(5); };
  let path2 = path;
  async function client(at = path) {
    const got = { replies: [], closed: false };
    const read = frameReader();
    const socket = await Bun.connect({ unix: at, socket: {
      data: (_, chunk) => { for (const body of read(chunk).bodies) got.replies.push(JSON.parse(body)); },
      close: () => void (got.closed = true),
    } });
    const frame = (body) => {
      const bytes = new TextEncoder().encode(body);
      const out = new Uint8Array(4 + bytes.length);
      new DataView(out.buffer).setUint32(0, bytes.length);
      out.set(bytes, 4);
      return out;
    };
    return { got, send: (body) => socket.write(frame(typeof body === "string" ? body : JSON.stringify(body))), raw: (bytes) => socket.write(bytes) };
  }
  const out = { opened: server.open("notes", ${JSON.stringify(dir)}, ["room.status", "courier.send"]) };
  // Who asks is the socket's room; a second request on a connection that has one pending is refused.
  const first = await client();
  first.send({ type: "room.status" });
  await until(() => first.got.replies.length === 1);
  first.send({ type: "courier.send", path: "/tmp/a.txt" });
  await Bun.sleep(20);
  first.send({ type: "room.status" });
  await until(() => first.got.replies.length === 2);
  deliver();
  await until(() => first.got.replies.length === 3);
  out.first = first.got;
  // A type the policy does not allow, then malformed frames: the fifth refusal hangs up.
  const abuser = await client();
  abuser.send({ type: "room.spawn", policy: "x" });
  for (let i = 0; i < 5; i++) abuser.send("not json");
  await until(() => abuser.got.closed);
  out.abuser = abuser.got;
  // A frame announced bigger than a frame may be: refused and closed at once.
  const giant = await client();
  giant.raw(Uint8Array.from([0, 0x10, 0, 0]));
  await until(() => giant.got.closed);
  out.giant = giant.got;
  // More connections than a room may hold (four: the first client's and these three): the fifth is refused on arrival.
  const held = [await client(), await client(), await client()];
  const extra = await client();
  await until(() => extra.got.closed);
  out.extra = extra.got;
  out.heldOpen = [first, ...held].filter((c) => !c.got.closed).length;
  // A nested room's TOML is parsed here: bay0 gets its data, the room its located errors.
  server.open("parent", ${JSON.stringify(join(dir, "parent"))}, ["room.spawn"]);
  path2 = ${JSON.stringify(join(dir, "parent", "umbilical"))};
  const spawner = await client(path2);
  spawner.send({ type: "room.spawn", policy: 'name = "kid"\\nimage = "minimal"\\ncommand = ["/bin/true"]\\n' });
  await until(() => spawner.got.replies.length === 1);
  spawner.send({ type: "room.spawn", policy: 'name = "kid"\\nimage = 7\\n' });
  await until(() => spawner.got.replies.length === 2);
  out.spawner = spawner.got;
  // Policies that do not parse are refusals too: the fifth refusal closes the connection.
  const scribbler = await client(path2);
  for (let i = 0; i < 6; i++) scribbler.send({ type: "room.spawn", policy: "[[[" });
  await until(() => scribbler.got.closed);
  out.scribbler = scribbler.got;
  server.close("notes");
  out.gone = !(await Bun.file(path).exists());
  out.forwarded = forwarded;
  out.records = records;
  console.log(JSON.stringify(out));
  process.exit(0);
`;

type Reply = { ok: boolean; room?: string; error?: { code: string; message: string } };
type Got = { replies: Reply[]; closed: boolean };
type Out = {
  opened: string | null;
  first: Got;
  abuser: Got;
  giant: Got;
  extra: Got;
  heldOpen: number;
  spawner: Got;
  scribbler: Got;
  gone: boolean;
  forwarded: { room: string; pid: number | null; request: Record<string, unknown> }[];
  records: Record<string, unknown>[];
};

describe("the umbilical's server", () => {
  const dir = mkdtempSync(join(tmpdir(), "anchor-umbilical-"));
  let out: Out;
  beforeAll(() => {
    mkdirSync(join(dir, "parent"));
    out = JSON.parse(inBun(script(dir))) as Out;
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("answers for the room whose socket the request came in on, one request at a time per connection", () => {
    expect(out.opened).toBeNull();
    expect(out.first.replies[0]).toMatchObject({ ok: true, room: "notes", state: "running", uptime_ms: 1234 });
    expect(out.first.replies[1]).toMatchObject({
      ok: false,
      error: { code: "rate_limited", message: "one request at a time" },
    });
    expect(out.first.replies[2]).toMatchObject({ ok: true, delivered: { to: "notes", path: "/inbox//tmp/a.txt" } });
    expect(out.first.closed).toBe(false);
  });

  it("refuses what the policy does not allow and hangs up on the fifth refusal, logging each", () => {
    expect(out.abuser.replies.map((r) => r.error?.code)).toEqual([
      "not_allowed",
      "malformed",
      "malformed",
      "malformed",
      "malformed",
    ]);
    expect(out.abuser.closed).toBe(true);
    const refused = out.records.filter((r) => r.event === "umbilical.refused");
    expect(refused.filter((r) => r.code === "not_allowed")).toEqual([
      expect.objectContaining({ room: "notes", reason: "this room's policy does not allow room.spawn" }),
    ]);
    expect(refused.filter((r) => r.code === "malformed")).toHaveLength(4);
  });

  it("closes a connection that announces an oversized frame, and one past the room's connections", () => {
    expect(out.giant).toMatchObject({ closed: true, replies: [{ ok: false, error: { code: "oversized" } }] });
    expect(out.extra).toMatchObject({ closed: true, replies: [{ ok: false, error: { code: "rate_limited" } }] });
    expect(out.heldOpen).toBe(4);
  });

  it("forwards what it admitted to bay0 with the room it came in on and the peer's pid, a nested policy as its data", () => {
    expect(out.forwarded).toEqual([
      { room: "notes", pid: 4242, request: { type: "room.status" } },
      { room: "notes", pid: 4242, request: { type: "courier.send", path: "/tmp/a.txt" } },
      {
        room: "parent",
        pid: 4242,
        request: { type: "room.spawn", policy: { name: "kid", image: "minimal", command: ["/bin/true"] } },
      },
    ]);
    expect(out.spawner.replies[0]).toEqual({ ok: true, room: "parent/kid" });
  });

  it("answers a policy that does not parse itself, with where it is wrong, and records it as bay0 records requests", () => {
    expect(out.spawner.replies[1]).toMatchObject({ ok: false, error: { code: "malformed" } });
    expect(out.spawner.replies[1]?.error?.message).toMatch(/^parent:umbilical:2:\d+: image: /);
    expect(out.records.filter((r) => r.event === "umbilical.request")[0]).toEqual(
      expect.objectContaining({ room: "parent", type: "room.spawn", ok: false, code: "malformed" }),
    );
    expect(out.scribbler.closed).toBe(true);
    // The first is parsed while the others meet a busy connection.
    expect(out.scribbler.replies.map((r) => r.ok)).toEqual(Array(5).fill(false));
    expect(out.gone).toBe(true);
  });
});
