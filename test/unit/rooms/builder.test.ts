import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { policySchema } from "../../../policies/schema.ts";
import { answer, type BuilderDeps } from "../../../rooms/builder.ts";
import type { BuilderRequest } from "../../../rooms/builder-protocol.ts";
import { planRoom } from "../../../rooms/plan.ts";
import { containersProfileSchema } from "../../../rooms/seccomp.ts";
import { FakeLibc } from "../../../sys/libc-fake.ts";

const profile = containersProfileSchema.parse(
  JSON.parse(readFileSync(join(import.meta.dirname, "../../../rooms/seccomp-base/containers-common.json"), "utf8")),
);

function fakes() {
  const files = new Map<string, string>([["/sys/fs/cgroup/cgroup.controllers", "cpu memory pids"]]);
  const removed: string[] = [];
  const bound: unknown[][] = [];
  const owned: unknown[][] = [];
  const libc = new FakeLibc();
  const deps: BuilderDeps = {
    libc,
    deleteContainer: () => null,
    bindVault: (...args) => {
      bound.push(args);
      return args[0] === "planted"
        ? "the vault folder planted is not a plain directory (Too many levels of symbolic links)"
        : null;
    },
    cgroupFs: {
      mkdir: () => undefined,
      write: (path, value) => void files.set(path, value),
      read: (path) => files.get(path) ?? null,
      rmdir: (path) => void removed.push(path),
    },
    rootfsFs: {
      mkdir: () => undefined,
      chown: (...args) => void owned.push(args),
      writeFile: (path, text) => void files.set(path, text),
      read: (path) => files.get(path) ?? null,
      remove: (path) => void removed.push(path),
    },
  };
  return { deps, files, removed, libc, bound, owned };
}

const work = planRoom(
  policySchema.parse({
    name: "work",
    image: "minimal",
    command: ["/bin/sh"],
    limits: { memory_max: "64M" },
    nesting: { allowed: true, max_depth: 1 },
  }),
);
const kid = planRoom(policySchema.parse({ name: "kid", image: "minimal", command: ["/bin/true"] }), work);
/** What bay0 writes: the policy as JSON, planned again by the builder. */
const line = (request: Omit<BuilderRequest, "id">) => JSON.stringify({ id: 7, ...request });

describe("the room builder", () => {
  it("plans a nested room again from bay0's policy and parent, and builds its cgroup, root and bundle", () => {
    const { deps, files, libc } = fakes();
    const request = { do: "prepare", room: "work/kid", policy: kid.policy, parent: { id: "work", depth: 0 } } as const;
    expect(answer(deps, profile, line(request))).toEqual({ id: 7, error: null });
    const config = JSON.parse(files.get("/run/rooms/work--kid/bundle/config.json") ?? "{}");
    expect(config.linux.cgroupsPath).toBe("/rooms/work/kid/room");
    expect(config.process.args).toEqual(["/bin/true"]);
    expect(files.get("/sys/fs/cgroup/rooms/work/kid/pids.max")).toBe("256");
    // Whatever an earlier instance left goes first; then the tmpfs and the overlay.
    expect(libc.calls.map((c) => [c.fn, c.fn === "mount" ? c.args[1] : c.args[0]])).toEqual([
      ["umount2", "/run/rooms/.vault/work--kid"],
      ["umount2", "/run/rooms/work--kid/rootfs"],
      ["umount2", "/run/rooms/work--kid/scratch"],
      ["mount", "/run/rooms/work--kid/scratch"],
      ["mount", "/run/rooms/work--kid/rootfs"],
    ]);
    // A size the policy gave as "64M" arrives as bytes and is still 64M.
    expect(answer(deps, profile, line({ do: "prepare", room: "work", policy: work.policy, parent: null }))).toEqual({
      id: 7,
      error: null,
    });
    expect(files.get("/sys/fs/cgroup/rooms/work/memory.max")).toBe(String(64 * 1024 * 1024));
  });

  it("binds a room's vault folder, owned by the room's user, where crun binds it on; a folder it cannot bind fails the room", () => {
    const { deps, bound } = fakes();
    const docs = policySchema.parse({
      name: "docs",
      image: "minimal",
      command: ["/bin/sh"],
      vault: { folder: "docs" },
    });
    expect(answer(deps, profile, line({ do: "prepare", room: "docs", policy: docs, parent: null }))).toEqual({
      id: 7,
      error: null,
    });
    expect(bound).toEqual([["docs", { uid: 101000, gid: 101000 }, "/run/rooms/.vault/docs"]]);
    const planted = { ...docs, vault: { folder: "planted" } };
    expect(answer(deps, profile, line({ do: "prepare", room: "docs", policy: planted, parent: null }))).toEqual({
      id: 7,
      error: "the vault folder planted is not a plain directory (Too many levels of symbolic links)",
    });
    expect(answer(deps, profile, line({ do: "prepare", room: "work", policy: work.policy, parent: null }))).toEqual({
      id: 7,
      error: null,
    });
    expect(bound).toHaveLength(2);
  });

  it("makes the socket directory of a room granted umbilical requests, its server's user's", () => {
    const { deps, owned } = fakes();
    const granted = policySchema.parse({
      name: "notes",
      image: "minimal",
      command: ["/bin/sh"],
      umbilical: { allow: ["room.status"] },
    });
    expect(answer(deps, profile, line({ do: "prepare", room: "notes", policy: granted, parent: null }))).toEqual({
      id: 7,
      error: null,
    });
    expect(owned).toContainEqual(["/run/umbilical/notes", 991, 991]);
    expect(answer(deps, profile, line({ do: "prepare", room: "work", policy: work.policy, parent: null }))).toEqual({
      id: 7,
      error: null,
    });
    expect(owned.filter(([path]) => String(path).startsWith("/run/umbilical/"))).toHaveLength(1);
  });

  it("takes a room away: its mounts, its directory, its leaf and node", () => {
    const { deps, removed, libc } = fakes();
    expect(answer(deps, profile, line({ do: "teardown", room: "work", policy: work.policy, parent: null }))).toEqual({
      id: 7,
      error: null,
    });
    expect(libc.calls.map((c) => c.fn)).toEqual(["umount2", "umount2", "umount2"]);
    expect(removed).toEqual([
      "/run/umbilical/work",
      "/run/rooms/work",
      "/sys/fs/cgroup/rooms/work/room",
      "/sys/fs/cgroup/rooms/work",
    ]);
  });

  it("refuses what does not add up, and builds nothing without its seccomp profile", () => {
    const { deps, files } = fakes();
    expect(answer(deps, profile, "not json")).toMatchObject({ id: -1, error: expect.stringMatching(/^bad request/) });
    expect(answer(deps, profile, JSON.stringify({ id: 3, do: "prepare", room: "work" }))).toMatchObject({
      id: 3,
      error: expect.stringMatching(/^bad request/),
    });
    const widened = { ...kid.policy, limits: { ...kid.policy.limits, pids_max: -1 } };
    expect(
      answer(deps, profile, line({ do: "prepare", room: "work/kid", policy: widened, parent: null })),
    ).toMatchObject({
      error: expect.stringMatching(/^bad request/),
    });
    expect(answer(deps, profile, line({ do: "prepare", room: "work/kid", policy: kid.policy, parent: null }))).toEqual({
      id: 7,
      error: "the plan is of 'kid', not 'work/kid'",
    });
    expect(answer(deps, null, line({ do: "prepare", room: "work", policy: work.policy, parent: null }))).toEqual({
      id: 7,
      error: "the seccomp profile /etc/anchor/seccomp.json is missing or invalid",
    });
    expect([...files.keys()]).toEqual(["/sys/fs/cgroup/cgroup.controllers"]);
  });
});
