/**
 * Making and removing a room's cgroup node: the room builder's part
 * (rooms/builder.ts); bay0 keeps moving, killing, freezing and reading.
 */
import { CGROUP_ROOT, type CgroupFs } from "./cgroup.ts";
import type { RoomPlan } from "./plan.ts";

/** What the builder does to cgroups: bay0's writes and reads, and making and removing nodes. */
export type CgroupSetupFs = CgroupFs & { mkdir(path: string): void; rmdir(path: string): void };

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

const WANTED_CONTROLLERS = ["cpu", "memory", "pids", "io"];

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
  fs: CgroupSetupFs,
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

/** Removes the room's emptied leaf and node (a node with live child rooms stays). */
export function removeRoomCgroup(fs: CgroupSetupFs, plan: RoomPlan): void {
  for (const path of [plan.cgroup.leaf, plan.cgroup.node]) {
    try {
      fs.rmdir(`${CGROUP_ROOT}${path}`);
    } catch {
      // Busy (child rooms) or already gone: both are fine here.
    }
  }
}
