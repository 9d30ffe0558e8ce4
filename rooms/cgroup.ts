import type { RoomPlan } from "./plan.ts";

export const CGROUP_ROOT = "/sys/fs/cgroup";
const WANTED_CONTROLLERS = ["cpu", "memory", "pids", "io"];

/** The file operations cgroup management needs (a fake in tests). */
export type CgroupFs = {
  mkdir(path: string): void;
  write(path: string, value: string): void;
  read(path: string): string | null;
  rmdir(path: string): void;
};

/** A cgroup write that failed: which file, what value, why. A room must not start half-confined. */
export class CgroupError extends Error {
  constructor(
    readonly file: string,
    readonly value: string,
    cause: unknown,
  ) {
    super(`writing '${value}' to ${file} failed: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
}

function write(fs: CgroupFs, file: string, value: string): void {
  try {
    fs.write(file, value);
  } catch (error) {
    throw new CgroupError(file, value, error);
  }
}

/** Controllers both wanted and offered by the kernel (io needs an io controller such as iocost). */
export function availableControllers(fs: CgroupFs): string[] {
  const offered = (fs.read(`${CGROUP_ROOT}/cgroup.controllers`) ?? "").trim().split(/\s+/);
  return WANTED_CONTROLLERS.filter((c) => offered.includes(c));
}

/**
 * Prepares a room's cgroup node: every interior node on the way (from the
 * root down to the node itself) delegates the available controllers to its
 * children, and the node gets the room's limits (already reduced to those
 * controllers by `availableLimits`), which bound the room and all its
 * descendants. Processes go only into leaves (crun creates plan.cgroup.leaf):
 * cgroup v2 refuses processes in a node with controllers enabled, and a
 * process whose move failed would run unconfined. Throws CgroupError.
 */
export function prepareRoomCgroup(
  fs: CgroupFs,
  plan: RoomPlan,
  controllers: string[],
  limits: Record<string, string>,
): void {
  const enable = controllers.map((c) => `+${c}`).join(" ");
  const parts = plan.cgroup.node.split("/").filter((p) => p !== "");
  let path = CGROUP_ROOT;
  write(fs, `${path}/cgroup.subtree_control`, enable);
  for (const part of parts) {
    path = `${path}/${part}`;
    fs.mkdir(path);
    write(fs, `${path}/cgroup.subtree_control`, enable);
  }
  for (const [file, value] of Object.entries(limits)) write(fs, `${CGROUP_ROOT}${plan.cgroup.node}/${file}`, value);
}

/** The limits whose controller the kernel offers (io needs an io controller such as iocost). */
export function availableLimits(controllers: string[], limits: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(limits).filter(([file]) => controllers.includes(file.split(".")[0] ?? "")));
}

/** Moves a process into a leaf cgroup (cgroup.procs); throws CgroupError. */
export function moveIntoCgroup(fs: CgroupFs, leaf: string, pid: number): void {
  write(fs, `${CGROUP_ROOT}${leaf}/cgroup.procs`, String(pid));
}

/** Kills every process in the room and its descendant rooms at once (cgroup.kill). */
export function killRoomCgroup(fs: CgroupFs, plan: RoomPlan): void {
  write(fs, `${CGROUP_ROOT}${plan.cgroup.node}/cgroup.kill`, "1");
}

export function freezeRoomCgroup(fs: CgroupFs, plan: RoomPlan, frozen: boolean): void {
  write(fs, `${CGROUP_ROOT}${plan.cgroup.node}/cgroup.freeze`, frozen ? "1" : "0");
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

/** What a room uses now, from its node's files; null where the kernel offers no such file. */
export type RoomUsage = {
  memoryCurrent: number | null;
  memoryMax: number | null;
  pids: number | null;
  cpuUsec: number | null;
};

const numberIn = (text: string | null): number | null => {
  const n = text === null ? Number.NaN : Number(text.trim());
  return Number.isFinite(n) ? n : null;
};

export function roomUsage(fs: CgroupFs, plan: RoomPlan): RoomUsage {
  const at = (file: string): string | null => fs.read(`${CGROUP_ROOT}${plan.cgroup.node}/${file}`);
  const cpu = /^usage_usec (\d+)$/m.exec(at("cpu.stat") ?? "")?.[1];
  return {
    memoryCurrent: numberIn(at("memory.current")),
    memoryMax: numberIn(at("memory.max")),
    pids: numberIn(at("pids.current")),
    cpuUsec: cpu === undefined ? null : Number(cpu),
  };
}

/** Removes the room's emptied leaf and node (a node with live child rooms stays). */
export function removeRoomCgroup(fs: CgroupFs, plan: RoomPlan): void {
  for (const path of [plan.cgroup.leaf, plan.cgroup.node]) {
    try {
      fs.rmdir(`${CGROUP_ROOT}${path}`);
    } catch {
      // Busy (child rooms) or already gone: both are fine here.
    }
  }
}
