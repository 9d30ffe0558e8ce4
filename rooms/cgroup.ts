import type { RoomPlan } from "./plan.ts";

export const CGROUP_ROOT = "/sys/fs/cgroup";

/** The file operations bay0's cgroup work needs (a fake in tests); the room builder's also make and remove nodes. */
export type CgroupFs = { write(path: string, value: string): void; read(path: string): string | null };

/** Moves a process into a leaf cgroup (cgroup.procs); throws why not. */
export function moveIntoCgroup(fs: CgroupFs, leaf: string, pid: number): void {
  fs.write(`${CGROUP_ROOT}${leaf}/cgroup.procs`, String(pid));
}

/** Kills every process in the room and its descendant rooms at once (cgroup.kill). */
export function killRoomCgroup(fs: CgroupFs, plan: RoomPlan): void {
  fs.write(`${CGROUP_ROOT}${plan.cgroup.node}/cgroup.kill`, "1");
}

export function freezeRoomCgroup(fs: CgroupFs, plan: RoomPlan, frozen: boolean): void {
  fs.write(`${CGROUP_ROOT}${plan.cgroup.node}/cgroup.freeze`, frozen ? "1" : "0");
}

/** True while any process is left in the room's node (cgroup.events "populated 1"). */
export function isPopulated(fs: CgroupFs, path: string): boolean {
  return /^populated 1$/m.test(fs.read(`${CGROUP_ROOT}${path}/cgroup.events`) ?? "");
}

/** How many times the kernel OOM-killed a process in the room (memory.events oom_kill). */
export function oomKills(fs: CgroupFs, plan: RoomPlan): number {
  const match = /^oom_kill (\d+)$/m.exec(fs.read(`${CGROUP_ROOT}${plan.cgroup.node}/memory.events`) ?? "");
  return match?.[1] === undefined ? 0 : Number(match[1]);
}
