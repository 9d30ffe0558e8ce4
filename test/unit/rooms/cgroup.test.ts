import { describe, expect, it } from "vitest";
import { parsePolicy } from "../../../policies/parse.ts";
import { killRoomCgroup, oomKills } from "../../../rooms/cgroup.ts";
import { CgroupError, type CgroupSetupFs } from "../../../rooms/cgroup-setup.ts";
import { availableControllers, availableLimits, prepareRoomCgroup } from "../../../rooms/cgroup-setup.ts";
import { planRoom } from "../../../rooms/plan.ts";

function fakeFs(files: Record<string, string> = {}, failing: string[] = []) {
  const writes: [string, string][] = [];
  const dirs: string[] = [];
  const fs: CgroupSetupFs = {
    mkdir: (path) => dirs.push(path),
    write: (path, value) => {
      if (failing.includes(path)) throw new Error("EBUSY");
      writes.push([path, value]);
    },
    read: (path) => files[path] ?? null,
    rmdir: () => undefined,
  };
  return { fs, writes, dirs };
}

const result = parsePolicy('name = "kid"\nimage = "minimal"\ncommand = ["/bin/true"]\n', "kid.toml");
if (!result.ok) throw new Error("fixture");
const parent = planRoom({ ...result.policy, name: "work" });
const kid = planRoom(result.policy, parent);

/** What the supervisor does: limits reduced to the offered controllers, then the node prepared. */
function prepare(fs: CgroupSetupFs, plan: typeof parent, limits: Record<string, string>): void {
  const controllers = availableControllers(fs);
  prepareRoomCgroup(fs, plan, controllers, availableLimits(controllers, limits));
}

describe("prepareRoomCgroup", () => {
  it("delegates controllers down every interior node and puts limits on the room's node, never on a leaf", () => {
    const { fs, writes, dirs } = fakeFs({ "/sys/fs/cgroup/cgroup.controllers": "cpuset cpu io memory pids\n" });
    prepare(fs, kid, { "memory.max": "1024", "pids.max": "5", "io.weight": "default 100" });
    expect(dirs).toEqual(["/sys/fs/cgroup/rooms", "/sys/fs/cgroup/rooms/work", "/sys/fs/cgroup/rooms/work/kid"]);
    expect(writes).toEqual([
      ["/sys/fs/cgroup/cgroup.subtree_control", "+cpu +memory +pids +io"],
      ["/sys/fs/cgroup/rooms/cgroup.subtree_control", "+cpu +memory +pids +io"],
      ["/sys/fs/cgroup/rooms/work/cgroup.subtree_control", "+cpu +memory +pids +io"],
      ["/sys/fs/cgroup/rooms/work/kid/cgroup.subtree_control", "+cpu +memory +pids +io"],
      ["/sys/fs/cgroup/rooms/work/kid/memory.max", "1024"],
      ["/sys/fs/cgroup/rooms/work/kid/pids.max", "5"],
      ["/sys/fs/cgroup/rooms/work/kid/io.weight", "default 100"],
    ]);
  });

  it("skips controllers the kernel does not offer", () => {
    const { fs, writes } = fakeFs({ "/sys/fs/cgroup/cgroup.controllers": "cpu memory pids\n" });
    prepare(fs, parent, { "io.weight": "default 100", "pids.max": "5" });
    expect(writes.at(-1)).toEqual(["/sys/fs/cgroup/rooms/work/pids.max", "5"]);
    expect(writes.some(([file]) => file.endsWith("io.weight"))).toBe(false);
    expect(availableLimits(availableControllers(fs), { "io.weight": "default 1", "memory.max": "1" })).toEqual({
      "memory.max": "1",
    });
  });

  it("fails loudly, naming the file, when a write fails: a room must not run unconfined", () => {
    const { fs } = fakeFs({ "/sys/fs/cgroup/cgroup.controllers": "memory pids" }, [
      "/sys/fs/cgroup/rooms/work/pids.max",
    ]);
    expect(() => prepare(fs, parent, { "pids.max": "5" })).toThrow(CgroupError);
    expect(() => prepare(fs, parent, { "pids.max": "5" })).toThrow(/rooms\/work\/pids.max/);
  });
});

describe("room cgroup control", () => {
  it("kills through cgroup.kill on the node (so descendants die too) and reads OOM kills", () => {
    const { fs, writes } = fakeFs({
      "/sys/fs/cgroup/rooms/work/memory.events": "low 0\nhigh 0\nmax 3\noom 1\noom_kill 2\n",
    });
    killRoomCgroup(fs, parent);
    expect(writes).toEqual([["/sys/fs/cgroup/rooms/work/cgroup.kill", "1"]]);
    expect(oomKills(fs, parent)).toBe(2);
    expect(oomKills(fs, kid)).toBe(0);
  });
});
