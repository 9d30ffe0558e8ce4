import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parsePolicy } from "../../../policies/parse.ts";
import type { Policy } from "../../../policies/schema.ts";
import { containersProfileSchema } from "../../../rooms/seccomp.ts";
import { prepareRoom, teardownRoom, type BuilderDeps } from "../../../rooms/builder.ts";
import { MAX_CHILDREN, RoomSupervisor, type RoomDeps } from "../../../rooms/supervisor.ts";
import { FakeLibc } from "../../../sys/libc-fake.ts";
import { createLog, type LogRecord } from "../../../sys/log.ts";
import { memorySink } from "../memory-sink.ts";
import type { ChildExit, ChildStream } from "../../../sys/spawn.ts";

const profile = containersProfileSchema.parse(
  JSON.parse(readFileSync(join(import.meta.dirname, "../../../rooms/seccomp-base/containers-common.json"), "utf8")),
);

function policy(text: string): Policy {
  const head = text.includes("image =") ? "" : 'image = "minimal"\n';
  const result = parsePolicy(`${head}command = ["/bin/true"]\n${text}`, "t.toml");
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.policy;
}

type Spawned = {
  argv: string[];
  pid: number;
  end: (exit: ChildExit) => void;
  onLine: (s: ChildStream, l: string) => void;
  cgroup: string;
};

/**
 * A world of fakes: cgroup files, a spawner whose children end when told (or
 * when cgroup.kill hits the node they live under), a tool runner, a clock.
 * `crun` says what the fake crun does on start: create the room (write its
 * pid file and populate its leaf), or fail before it exists.
 */
function world(options: { crun?: "creates" | "fails" | "hangs" } = {}) {
  const records: LogRecord[] = [];
  const files = new Map<string, string>([["/sys/fs/cgroup/cgroup.controllers", "cpu memory pids"]]);
  const spawned: Spawned[] = [];
  const deleted: string[] = [];
  const libc = new FakeLibc();
  let clock = 0;
  const endChild = (child: Spawned, exit: ChildExit): void => {
    files.set(`${child.cgroup}/cgroup.events`, "populated 0\n");
    child.end(exit);
  };
  libc.kill = (pid, signal) => {
    libc.calls.push({ fn: "kill", args: [pid, signal] });
    for (const child of spawned.filter((c) => c.pid === pid)) endChild(child, { status: null, signal: "SIGKILL" });
    return { ok: true, value: 0 };
  };
  /** The room builder's own code on the same fakes, as if answered from its process. */
  const built: BuilderDeps = {
    libc,
    bindVault: () => null,
    deleteContainer: (containerId) => {
      deleted.push(containerId);
      return null;
    },
    cgroupFs: {
      mkdir: () => undefined,
      write: (path, value) => {
        files.set(path, value);
        // cgroup.kill kills what lives in that cgroup and below it, nothing else.
        if (path.endsWith("/cgroup.kill")) {
          const node = path.slice(0, -"/cgroup.kill".length);
          for (const child of spawned.filter((c) => c.cgroup.startsWith(`${node}/`)))
            endChild(child, { status: null, signal: "SIGKILL" });
        }
      },
      read: (path) => files.get(path) ?? null,
      rmdir: () => undefined,
    },
    rootfsFs: {
      mkdir: () => undefined,
      chown: () => undefined,
      writeFile: (path, text) => files.set(path, text),
      read: (path) => files.get(path) ?? null,
      remove: (path) => {
        for (const key of [...files.keys()]) if (key.startsWith(`${path}/`)) files.delete(key);
      },
    },
  };
  const deps: RoomDeps = {
    libc,
    log: createLog([memorySink(records)]),
    spawner: {
      isOwn: () => true,
      spawn: (argv, onLine) => {
        let end: (exit: ChildExit) => void = () => undefined;
        const exited = new Promise<ChildExit>((resolve) => {
          end = resolve;
        });
        const id = argv.at(-1)?.replace("anchor-", "").replaceAll("--", "/") ?? "";
        const cgroup = `/sys/fs/cgroup/rooms/${id}/room`;
        const child: Spawned = { argv, pid: 100 + spawned.length, onLine, end, cgroup };
        spawned.push(child);
        const mode = options.crun ?? "creates";
        if (mode === "creates") {
          files.set(argv[argv.indexOf("--pid-file") + 1] ?? "", "4242");
          files.set(`${cgroup}/cgroup.events`, "populated 1\n");
        } else if (mode === "fails") {
          queueMicrotask(() => {
            for (const early of ["crun: starting", "crun: reading config", "crun: mounting"]) onLine("stderr", early);
            onLine("stderr", "crun: cannot set up the room: Invalid argument");
            endChild(child, { status: 1, signal: null });
          });
        }
        return { pid: child.pid, exited };
      },
    },
    cgroupFs: built.cgroupFs,
    readFile: (path) => files.get(path) ?? null,
    builder: {
      prepare: async (plan) => prepareRoom(built, plan, profile),
      teardown: async (plan) => teardownRoom(built, plan),
    },
    images: () => new Set(["minimal"]),
    now: () => clock,
    sleep: async (ms) => {
      clock += ms;
      await Promise.resolve();
    },
  };
  return { supervisor: new RoomSupervisor(deps), deps, built, records, files, spawned, deleted, libc };
}

const flush = () => new Promise((r) => setTimeout(r, 0));

const PARENT = 'name = "parent"\n[nesting]\nallowed = true\nmax_depth = 1\n[umbilical]\nallow = ["room.spawn"]';

describe("RoomSupervisor", () => {
  it("prepares cgroup, root and bundle, runs crun, streams output, and cleans up after the exit", async () => {
    const w = world();
    const result = await w.supervisor.start(policy('name = "web"'));
    expect(result.ok).toBe(true);
    expect(w.files.get("/sys/fs/cgroup/rooms/web/pids.max")).toBe("256");
    expect(JSON.parse(w.files.get("/run/rooms/web/bundle/config.json") ?? "{}").linux.cgroupsPath).toBe(
      "/rooms/web/room",
    );
    expect(w.libc.calls.filter((c) => c.fn === "mount").map((c) => c.args[2])).toEqual(["tmpfs", "overlay"]);
    expect(w.spawned[0]?.argv).toEqual([
      "crun",
      "--root",
      "/run/crun",
      "run",
      "--bundle",
      "/run/rooms/web/bundle",
      "--pid-file",
      "/run/rooms/web/crun.pid",
      "anchor-web",
    ]);
    w.spawned[0]?.onLine("stdout", "hello");
    w.spawned[0]?.end({ status: 3, signal: null });
    await flush();
    await flush();
    expect(w.records.map((r) => r.event)).toEqual([
      "room.starting",
      "room.started",
      "room.output",
      "room.exited",
      "room.removed",
    ]);
    expect(w.records.find((r) => r.event === "room.exited")?.status).toBe(3);
    expect(w.deleted).toEqual(["anchor-web"]);
    expect(w.supervisor.list().some((r) => r.id === "web")).toBe(false);
  });

  it("refuses a room whose image is missing, and a wider child, with reasons", async () => {
    const w = world();
    expect(await w.supervisor.start(policy('name = "x"\nimage = "nope"'))).toEqual({
      ok: false,
      reason: "image 'nope' is not available",
    });
    await w.supervisor.start(policy(PARENT));
    const refused = await w.supervisor.spawnChild("parent", policy('name = "kid"\n[limits]\npids_max = 9999'));
    expect(refused.ok).toBe(false);
    expect(w.records.find((r) => r.event === "room.refused")).toMatchObject({ room: "parent/kid" });
    expect(w.spawned).toHaveLength(1);
  });

  it("kills a room and its children through cgroup.kill, and resets a room to a fresh start", async () => {
    const w = world();
    await w.supervisor.start(policy(PARENT));
    const kid = await w.supervisor.spawnChild("parent", policy('name = "kid"'));
    expect(kid.ok).toBe(true);
    expect(await w.supervisor.kill("parent")).toBe(true);
    expect(w.files.get("/sys/fs/cgroup/rooms/parent/cgroup.kill")).toBe("1");
    expect(
      w.records
        .filter((r) => r.event === "room.killed")
        .map((r) => r.room)
        .sort(),
    ).toEqual(["parent", "parent/kid"]);
    expect(w.supervisor.list()).toEqual([]);

    await w.supervisor.start(policy('name = "web"'));
    const reset = await w.supervisor.reset("web");
    expect(reset.ok).toBe(true);
    expect(w.records.filter((r) => r.event === "room.killed" && r.room === "web").map((r) => r.reason)).toEqual([
      "reset",
    ]);
    expect(w.records.some((r) => r.event === "room.reset" && r.room === "web")).toBe(true);
    expect(w.supervisor.list().some((r) => r.id === "web")).toBe(true);
  });

  it("reports OOM kills once per new kill, and freezes through cgroup.freeze", async () => {
    const w = world();
    await w.supervisor.start(policy('name = "hog"'));
    w.files.set("/sys/fs/cgroup/rooms/hog/memory.events", "oom_kill 1\n");
    w.supervisor.checkOom();
    w.supervisor.checkOom();
    expect(w.records.filter((r) => r.event === "room.oom")).toHaveLength(1);
    expect(w.supervisor.freeze("hog", true)).toBe(true);
    expect(w.files.get("/sys/fs/cgroup/rooms/hog/cgroup.freeze")).toBe("1");
    expect(w.supervisor.freeze("nope", true)).toBe(false);
  });
});

describe("RoomSupervisor: every start ends in room.started or room.failed, whatever goes wrong", () => {
  const outcome = (w: ReturnType<typeof world>, room: string) =>
    w.records
      .filter((r) => (r.event === "room.started" || r.event === "room.failed") && r.room === room)
      .map((r) => r.event);

  it("counts a command that ends at once as started: crun had created the room", async () => {
    const w = world();
    const starting = w.supervisor.start(policy('name = "quick"'));
    await flush();
    w.spawned[0]?.end({ status: 0, signal: null });
    expect((await starting).ok).toBe(true);
    await flush();
    expect(w.records.map((r) => r.event)).toEqual(["room.starting", "room.started", "room.exited", "room.removed"]);
  });

  it("reports a crun that fails before the room exists as room.failed with crun's words, never as started", async () => {
    const w = world({ crun: "fails" });
    const result = await w.supervisor.start(policy('name = "web"'));
    // crun's last three lines, in the order it wrote them.
    expect(result).toEqual({
      ok: false,
      reason: "crun: crun: reading config / crun: mounting / crun: cannot set up the room: Invalid argument",
    });
    expect(outcome(w, "web")).toEqual(["room.failed"]);
    expect(w.records.some((r) => r.event === "room.exited")).toBe(false);
    expect(w.supervisor.list().some((r) => r.id === "web")).toBe(false);
  });

  it("gives up on a crun that never creates the room: kills it and reports room.failed, not room.started", async () => {
    const w = world({ crun: "hangs" });
    const result = await w.supervisor.start(policy('name = "web"'));
    expect(result.ok).toBe(false);
    expect(result.ok ? "" : result.reason).toMatch(/did not create the room within 60 s/);
    expect(w.libc.calls.find((c) => c.fn === "kill")?.args).toEqual([100, 9]);
    expect(outcome(w, "web")).toEqual(["room.failed"]);
    expect(w.supervisor.list().some((r) => r.id === "web")).toBe(false);
  });

  it("turns a throwing preparation into room.failed, and the next start works", async () => {
    const w = world();
    const writeFile = w.built.rootfsFs.writeFile;
    w.built.rootfsFs.writeFile = () => {
      throw new Error("ENOSPC: no space left on /run");
    };
    const result = await w.supervisor.start(policy('name = "web"'));
    expect(result).toEqual({ ok: false, reason: "preparing the room: ENOSPC: no space left on /run" });
    expect(outcome(w, "web")).toEqual(["room.failed"]);
    w.built.rootfsFs.writeFile = writeFile;
    expect((await w.supervisor.start(policy('name = "web"'))).ok).toBe(true);
  });

  it("turns a throwing spawn into room.failed", async () => {
    const w = world();
    w.deps.spawner.spawn = () => {
      throw new Error("EAGAIN: no more processes");
    };
    expect(await w.supervisor.start(policy('name = "web"'))).toEqual({
      ok: false,
      reason: "crun: EAGAIN: no more processes",
    });
    expect(outcome(w, "web")).toEqual(["room.failed"]);
  });

  it("forgets a room whose cleanup throws, so it can start again instead of being 'already running' forever", async () => {
    const w = world();
    await w.supervisor.start(policy('name = "web"'));
    w.built.deleteContainer = () => "crun delete: exploded";
    const remove = w.built.rootfsFs.remove;
    w.built.rootfsFs.remove = () => {
      throw new Error("EBUSY");
    };
    w.spawned[0]?.end({ status: 0, signal: null });
    await flush();
    await flush();
    expect(w.supervisor.list().some((r) => r.id === "web")).toBe(false);
    expect(w.records.filter((r) => r.event === "room.cleanup").map((r) => r.error)).toEqual([
      "crun delete: exploded; EBUSY",
    ]);
    // Nor does a new start build on what the old one left: the builder takes it away first, and says so when it cannot.
    expect(await w.supervisor.start(policy('name = "web"'))).toEqual({
      ok: false,
      reason: "preparing the room: EBUSY",
    });
    w.built.rootfsFs.remove = remove;
    expect((await w.supervisor.start(policy('name = "web"'))).ok).toBe(true);
  });

  it("holds a room's name while the builder works: a second start is refused, a kill or a shutdown meanwhile stops it before crun", async () => {
    const w = world();
    const built: (() => void)[] = [];
    const prepare = w.deps.builder.prepare;
    w.deps.builder.prepare = (plan) => new Promise((resolve) => built.push(() => void prepare(plan).then(resolve)));
    const first = w.supervisor.start(policy('name = "web"'));
    expect(await w.supervisor.start(policy('name = "web"'))).toEqual({
      ok: false,
      reason: "room 'web' is already running",
    });
    expect(await w.supervisor.kill("web")).toBe(true);
    built.shift()?.();
    expect(await first).toEqual({ ok: false, reason: "killed while starting" });
    const second = w.supervisor.start(policy('name = "web"'));
    await flush();
    w.supervisor.stopAccepting();
    built.shift()?.();
    expect(await second).toEqual({ ok: false, reason: "the machine is shutting down" });
    expect(w.spawned).toHaveLength(0);
    expect(outcome(w, "web")).toEqual(["room.failed", "room.failed"]);
  });

  it("refuses every start once shutdown has begun", async () => {
    const w = world();
    w.supervisor.stopAccepting();
    const result = await w.supervisor.start(policy('name = "web"'));
    expect(result).toEqual({ ok: false, reason: "bay0: the machine is shutting down" });
    expect(w.spawned).toHaveLength(0);
  });
});

describe("RoomSupervisor nesting", () => {
  it("runs a child's crun monitor inside its parent's leaf cgroup, so the parent's limits bound it", async () => {
    const w = world();
    await w.supervisor.start(policy(PARENT));
    const kid = await w.supervisor.spawnChild("parent", policy('name = "kid"'));
    expect(kid.ok).toBe(true);
    expect(w.files.get("/sys/fs/cgroup/rooms/parent/room/cgroup.procs")).toBe(String(w.spawned[1]?.pid));
    expect(w.files.has("/sys/fs/cgroup/rooms/web/room/cgroup.procs")).toBe(false);
  });

  it(`refuses a child beyond ${MAX_CHILDREN} live children of one room`, async () => {
    const w = world();
    await w.supervisor.start(policy(PARENT));
    // Asked all at once, as a room's concurrent connections could: the ones still being built count too.
    const asked = Array.from({ length: MAX_CHILDREN }, (_, i) =>
      w.supervisor.spawnChild("parent", policy(`name = "kid${i}"`)),
    );
    const refused = await w.supervisor.spawnChild("parent", policy('name = "onemore"'));
    expect(refused.ok).toBe(false);
    expect(refused.ok ? "" : refused.reason).toMatch(/already has 8 child rooms/);
    expect((await Promise.all(asked)).map((r) => r.ok)).toEqual(Array(MAX_CHILDREN).fill(true));
  });

  it("kills only the room the cgroup.kill names, and its children", async () => {
    const w = world();
    await w.supervisor.start(policy(PARENT));
    await w.supervisor.start(policy('name = "web"'));
    await w.supervisor.spawnChild("parent", policy('name = "kid"'));
    expect(await w.supervisor.kill("parent")).toBe(true);
    expect(w.supervisor.list().map((r) => r.id)).toEqual(["web"]);
  });
});

describe("rooms with a vault folder", () => {
  it("start only when the vault binds their folder; otherwise they are refused with its reason, and the folder is unbound when they go", async () => {
    const w = world();
    const opened: string[] = [];
    const closed: string[] = [];
    let reason: string | null = "docs needs the vault, which is locked: unlock it at the console first";
    w.deps.vault = {
      open: (plan) => {
        opened.push(plan.id);
        return reason;
      },
      close: (plan) => void closed.push(plan.id),
    };
    const docs = policy('name = "docs"\n[vault]\nfolder = "docs"');
    const refused = await w.supervisor.start(docs);
    expect(refused).toEqual({
      ok: false,
      reason: "docs needs the vault, which is locked: unlock it at the console first",
    });
    expect(w.spawned).toHaveLength(0);
    reason = null;
    const started = await w.supervisor.start(docs);
    expect(started.ok ? "" : started.reason).toBe("");
    await w.supervisor.kill("docs");
    await flush();
    expect(opened).toEqual(["docs", "docs"]);
    expect(closed).toContain("docs");
    expect((await w.supervisor.start(policy('name = "plain"'))).ok).toBe(true);
    expect(opened).toEqual(["docs", "docs"]);
  });

  it("are refused on a machine without a vault", async () => {
    const w = world();
    expect(await w.supervisor.start(policy('name = "docs"\n[vault]\nfolder = "docs"'))).toEqual({
      ok: false,
      reason: "this machine has no vault",
    });
  });
});
