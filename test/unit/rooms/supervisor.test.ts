import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parsePolicy } from "../../../policies/parse.ts";
import type { Policy } from "../../../policies/schema.ts";
import { containersProfileSchema } from "../../../rooms/seccomp.ts";
import { RoomSupervisor } from "../../../rooms/supervisor.ts";
import { FakeLibc } from "../../../sys/libc-fake.ts";
import { createLog, memorySink, type LogRecord } from "../../../sys/log.ts";
import type { ChildExit, ChildStream } from "../../../sys/spawn.ts";

const profile = containersProfileSchema.parse(JSON.parse(readFileSync("/usr/share/containers/seccomp.json", "utf8")));

function policy(text: string): Policy {
  const head = text.includes("image =") ? "" : 'image = "minimal"\n';
  const result = parsePolicy(`${head}command = ["/bin/true"]\n${text}`, "t.toml");
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.policy;
}

/** A world of fakes: cgroup files, a spawner whose children end when told, a tool runner. */
function world() {
  const records: LogRecord[] = [];
  const files = new Map<string, string>([["/sys/fs/cgroup/cgroup.controllers", "cpu memory pids"]]);
  const spawned: { argv: string[]; end: (exit: ChildExit) => void; onLine: (s: ChildStream, l: string) => void }[] = [];
  const tools: string[][] = [];
  const libc = new FakeLibc();
  const supervisor = new RoomSupervisor({
    libc,
    log: createLog([memorySink(records)]),
    spawner: {
      isOwn: () => true,
      spawn: (argv, onLine) => {
        let end: (exit: ChildExit) => void = () => undefined;
        const exited = new Promise<ChildExit>((resolve) => {
          end = resolve;
        });
        // crun has put the room's first process into its leaf cgroup.
        const leaf = argv.at(-1)?.replace("anchor-", "").replaceAll("--", "/") ?? "";
        files.set(`/sys/fs/cgroup/rooms/${leaf}/room/cgroup.events`, "populated 1\n");
        spawned.push({
          argv,
          onLine,
          end: (exit) => {
            files.set(`/sys/fs/cgroup/rooms/${leaf}/room/cgroup.events`, "populated 0\n");
            end(exit);
          },
        });
        return { pid: 100 + spawned.length, exited };
      },
    },
    tool: async (argv) => {
      tools.push(argv);
      return { status: 0, stdout: "", stderr: "" };
    },
    cgroupFs: {
      mkdir: () => undefined,
      write: (path, value) => {
        files.set(path, value);
        if (path.endsWith("/cgroup.kill")) for (const child of spawned) child.end({ status: null, signal: "SIGKILL" });
      },
      read: (path) => files.get(path) ?? null,
      rmdir: () => undefined,
    },
    rootfsFs: { mkdir: () => undefined, chown: () => undefined, writeFile: (path, text) => files.set(path, text), remove: () => undefined },
    seccompProfile: profile,
    images: () => new Set(["minimal"]),
    now: () => 0,
    sleep: async () => undefined,
  });
  return { supervisor, records, files, spawned, tools, libc };
}

const flush = () => new Promise((r) => setTimeout(r, 0));

describe("RoomSupervisor", () => {
  it("prepares cgroup, root and bundle, runs crun, streams output, and cleans up after the exit", async () => {
    const w = world();
    const result = await w.supervisor.start(policy('name = "web"'));
    expect(result.ok).toBe(true);
    expect(w.files.get("/sys/fs/cgroup/rooms/web/pids.max")).toBe("256");
    expect(JSON.parse(w.files.get("/run/rooms/web/bundle/config.json") ?? "{}").linux.cgroupsPath).toBe("/rooms/web/room");
    expect(w.libc.calls.filter((c) => c.fn === "mount").map((c) => c.args[2])).toEqual(["tmpfs", "overlay"]);
    expect(w.spawned[0]?.argv).toEqual(["crun", "--root", "/run/crun", "run", "--bundle", "/run/rooms/web/bundle", "anchor-web"]);
    w.spawned[0]?.onLine("stdout", "hello");
    w.spawned[0]?.end({ status: 3, signal: null });
    await flush();
    await flush();
    expect(w.records.map((r) => r.event)).toEqual(["room.starting", "room.started", "room.output", "room.exited", "room.removed"]);
    expect(w.records.find((r) => r.event === "room.exited")?.status).toBe(3);
    expect(w.tools).toEqual([["crun", "--root", "/run/crun", "delete", "--force", "anchor-web"]]);
    expect(w.supervisor.isRunning("web")).toBe(false);
  });

  it("refuses a room whose image is missing, and a wider child, with reasons", async () => {
    const w = world();
    expect(await w.supervisor.start(policy('name = "x"\nimage = "nope"'))).toEqual({ ok: false, reason: "image 'nope' is not available" });
    await w.supervisor.start(policy('name = "parent"\n[nesting]\nallowed = true\nmax_depth = 1'));
    const refused = await w.supervisor.spawnChild("parent", policy('name = "kid"\n[limits]\npids_max = 9999'));
    expect(refused.ok).toBe(false);
    expect(w.records.find((r) => r.event === "room.refused")).toMatchObject({ room: "parent/kid" });
    expect(w.spawned).toHaveLength(1);
  });

  it("kills a room and its children through cgroup.kill, and resets a room to a fresh start", async () => {
    const w = world();
    await w.supervisor.start(policy('name = "parent"\n[nesting]\nallowed = true\nmax_depth = 1'));
    const kid = await w.supervisor.spawnChild("parent", policy('name = "kid"'));
    expect(kid.ok).toBe(true);
    expect(await w.supervisor.kill("parent")).toBe(true);
    expect(w.files.get("/sys/fs/cgroup/rooms/parent/cgroup.kill")).toBe("1");
    expect(w.records.filter((r) => r.event === "room.killed").map((r) => r.room).sort()).toEqual(["parent", "parent/kid"]);
    expect(w.supervisor.list()).toEqual([]);

    await w.supervisor.start(policy('name = "web"'));
    const reset = await w.supervisor.reset("web");
    expect(reset.ok).toBe(true);
    expect(w.records.filter((r) => r.event === "room.killed" && r.room === "web").map((r) => r.reason)).toEqual(["reset"]);
    expect(w.records.some((r) => r.event === "room.reset" && r.room === "web")).toBe(true);
    expect(w.supervisor.isRunning("web")).toBe(true);
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

describe("RoomSupervisor with a room that ends at once", () => {
  it("counts a start whose command already ended as started", async () => {
    const w = world();
    const starting = w.supervisor.start(policy('name = "quick"'));
    w.spawned[0]?.end({ status: 0, signal: null });
    const files = w.files;
    files.set("/sys/fs/cgroup/rooms/quick/room/cgroup.events", "populated 0\n");
    expect((await starting).ok).toBe(true);
  });
});
