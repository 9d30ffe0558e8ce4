import type { Policy } from "../policies/schema.ts";
import { subsetViolations, type SubsetViolation } from "../policies/subset.ts";
import type { Libc } from "../sys/libc.ts";
import type { Log } from "../sys/log.ts";
import type { ChildExit, Spawner } from "../sys/spawn.ts";
import type { ToolRunner } from "../sys/tool.ts";
import {
  availableControllers,
  availableLimits,
  CgroupError,
  freezeRoomCgroup,
  isPopulated,
  killRoomCgroup,
  oomKills,
  prepareRoomCgroup,
  removeRoomCgroup,
  type CgroupFs,
} from "./cgroup.ts";
import { crunDelete, crunRun } from "./crun.ts";
import { cgroupLimits, ociConfig } from "./oci.ts";
import { planRoom, type RoomPlan } from "./plan.ts";
import { prepareRootfs, teardownRootfs, type RootfsFs } from "./rootfs.ts";
import type { ContainersProfile } from "./seccomp.ts";
import { createOutputLimiter } from "./output.ts";

export type RoomDeps = {
  libc: Libc;
  log: Log;
  spawner: Spawner;
  tool: ToolRunner;
  cgroupFs: CgroupFs;
  rootfsFs: RootfsFs;
  seccompProfile: ContainersProfile;
  /** Names of mounted base images. */
  images: () => Set<string>;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
};

type LiveRoom = {
  plan: RoomPlan;
  parent: string | null;
  /** Why it is ending, when bay0 ended it. */
  ending: "killed" | "reset" | null;
  exited: Promise<void>;
  oomKills: number;
};

export type StartResult = { ok: true; plan: RoomPlan } | { ok: false; reason: string };

const STARTED_POLL_MS = 10;
const STARTED_TIMEOUT_MS = 60_000;

/**
 * bay0's rooms: starts them from policies, tracks them, learns of their
 * exits, and kills, resets, freezes or nests them on request. Every failure
 * is logged and confined to the room it concerns; nothing here throws.
 */
export class RoomSupervisor {
  private readonly rooms = new Map<string, LiveRoom>();

  constructor(private readonly deps: RoomDeps) {}

  list(): { id: string; name: string; depth: number; parent: string | null }[] {
    return [...this.rooms.values()].map((r) => ({ id: r.plan.id, name: r.plan.policy.name, depth: r.plan.depth, parent: r.parent }));
  }

  isRunning(id: string): boolean {
    return this.rooms.has(id);
  }

  /** Starts a top-level room from its policy. */
  start(policy: Policy): Promise<StartResult> {
    return this.launch(planRoom(policy), null);
  }

  /**
   * Starts a child of a running room. The child's policy must be a subset
   * of its parent's (monotonic capability loss) and the depth at most 5.
   */
  spawnChild(parentId: string, policy: Policy): Promise<StartResult> {
    const parent = this.rooms.get(parentId);
    if (!parent) return Promise.resolve(this.refuse(`${parentId}/${policy.name}`, [{ field: "parent", reason: `room '${parentId}' is not running` }]));
    const violations = subsetViolations(parent.plan.policy, policy, parent.plan.depth);
    if (violations.length > 0) return Promise.resolve(this.refuse(`${parentId}/${policy.name}`, violations));
    return this.launch(planRoom(policy, parent.plan), parentId);
  }

  /** Kills a room and every room below it: all their processes die at once. */
  async kill(id: string, why: "killed" | "reset" = "killed"): Promise<boolean> {
    const room = this.rooms.get(id);
    if (!room) return false;
    const family = [...this.rooms.values()].filter((r) => r.plan.id === id || r.plan.id.startsWith(`${id}/`));
    for (const member of family) member.ending ??= member === room ? why : "killed";
    try {
      killRoomCgroup(this.deps.cgroupFs, room.plan);
    } catch (error) {
      this.deps.log.error("room.error", { room: id, error: String(error) });
    }
    await Promise.all(family.map((m) => m.exited));
    return true;
  }

  /** Kill, drop the writable layer, start fresh from the same policy. */
  async reset(id: string): Promise<StartResult> {
    const room = this.rooms.get(id);
    if (!room) return { ok: false, reason: `room '${id}' is not running` };
    const started = this.deps.now();
    await this.kill(id, "reset");
    const parent = room.parent === null ? null : (this.rooms.get(room.parent)?.plan ?? null);
    if (room.parent !== null && parent === null) return { ok: false, reason: `parent '${room.parent}' is gone` };
    const result = await this.launch(planRoom(room.plan.policy, parent), room.parent);
    if (result.ok) this.deps.log.info("room.reset", { room: id, reset_ms: this.deps.now() - started });
    return result;
  }

  /** Freezes (or thaws) every process of a runaway room and its children. */
  freeze(id: string, frozen: boolean): boolean {
    const room = this.rooms.get(id);
    if (!room) return false;
    try {
      freezeRoomCgroup(this.deps.cgroupFs, room.plan, frozen);
      this.deps.log.info(frozen ? "room.frozen" : "room.thawed", { room: id });
      return true;
    } catch (error) {
      this.deps.log.error("room.error", { room: id, error: String(error) });
      return false;
    }
  }

  /** Reports new OOM kills in each room (the room goes on; only its hog died). */
  checkOom(): void {
    for (const room of this.rooms.values()) this.checkOomOf(room);
  }

  private refuse(room: string, reasons: SubsetViolation[]): StartResult {
    this.deps.log.warn("room.refused", { room, reasons });
    return { ok: false, reason: reasons.map((r) => `${r.field}: ${r.reason}`).join("; ") };
  }

  /**
   * Everything a room needs before crun runs it: its cgroup node with limits,
   * its root (image + tmpfs overlay) and its OCI bundle. Returns why not, or null.
   */
  prepare(plan: RoomPlan): string | null {
    if (!this.deps.images().has(plan.policy.image)) return `image '${plan.policy.image}' is not available`;
    const controllers = availableControllers(this.deps.cgroupFs);
    const limits = availableLimits(controllers, cgroupLimits(plan));
    try {
      prepareRoomCgroup(this.deps.cgroupFs, plan, controllers, limits);
    } catch (error) {
      return error instanceof CgroupError ? error.message : String(error);
    }
    const rootfsError = prepareRootfs(this.deps.libc, this.deps.rootfsFs, plan);
    if (rootfsError !== null) return rootfsError;
    const config = ociConfig(plan, this.deps.seccompProfile);
    config.linux.resources.unified = limits;
    this.deps.rootfsFs.writeFile(`${plan.dirs.bundle}/config.json`, JSON.stringify(config));
    return null;
  }

  private async launch(plan: RoomPlan, parent: string | null): Promise<StartResult> {
    const { log } = this.deps;
    const startedAt = this.deps.now();
    if (this.rooms.has(plan.id)) return { ok: false, reason: `room '${plan.id}' is already running` };
    log.info("room.starting", { room: plan.id, image: plan.policy.image, parent });
    const notReady = this.prepare(plan);
    if (notReady !== null) return this.failed(plan, notReady);

    const output = createOutputLimiter(log, plan.id, this.deps.now);
    let child;
    try {
      child = crunRun(this.deps.spawner, plan, output.line);
    } catch (error) {
      return this.failed(plan, `crun: ${String(error)}`);
    }
    const room: LiveRoom = { plan, parent, ending: null, exited: Promise.resolve(), oomKills: 0 };
    room.exited = child.exited.then((exit) => this.onExit(room, exit, output.flush)).catch((error: unknown) => {
      log.error("room.error", { room: plan.id, error: String(error) });
    });
    this.rooms.set(plan.id, room);

    while (!isPopulated(this.deps.cgroupFs, plan.cgroup.leaf)) {
      // A quick command can run and end before we look: its room.exited tells how.
      if (!this.rooms.has(plan.id)) return { ok: true, plan };
      if (this.deps.now() - startedAt > STARTED_TIMEOUT_MS) break;
      await this.deps.sleep(STARTED_POLL_MS);
    }
    log.info("room.started", { room: plan.id, spawn_ms: this.deps.now() - startedAt, pid: child.pid });
    return { ok: true, plan };
  }

  private async onExit(room: LiveRoom, exit: ChildExit, flush: () => void): Promise<void> {
    const { log } = this.deps;
    const id = room.plan.id;
    flush();
    this.checkOomOf(room);
    if (room.ending === null) log.info("room.exited", { room: id, status: exit.status, signal: exit.signal });
    else log.info("room.killed", { room: id, reason: room.ending, status: exit.status, signal: exit.signal });
    // A room that ends on its own still takes its child rooms with it.
    if (room.ending === null && isPopulated(this.deps.cgroupFs, room.plan.cgroup.node)) {
      try {
        killRoomCgroup(this.deps.cgroupFs, room.plan);
      } catch (error) {
        log.error("room.error", { room: id, error: String(error) });
      }
    }
    const deleteError = await crunDelete(this.deps.tool, room.plan);
    if (deleteError !== null && deleteError !== "") log.warn("room.cleanup", { room: id, error: deleteError });
    for (let i = 0; i < 200 && isPopulated(this.deps.cgroupFs, room.plan.cgroup.leaf); i++) await this.deps.sleep(10);
    teardownRootfs(this.deps.libc, this.deps.rootfsFs, room.plan);
    removeRoomCgroup(this.deps.cgroupFs, room.plan);
    this.rooms.delete(id);
    log.debug("room.removed", { room: id });
  }

  private checkOomOf(room: LiveRoom): void {
    const kills = oomKills(this.deps.cgroupFs, room.plan);
    if (kills > room.oomKills) {
      room.oomKills = kills;
      this.deps.log.warn("room.oom", { room: room.plan.id, oom_kills: kills });
    }
  }

  private failed(plan: RoomPlan, reason: string): StartResult {
    this.deps.log.error("room.failed", { room: plan.id, reason });
    try {
      teardownRootfs(this.deps.libc, this.deps.rootfsFs, plan);
      removeRoomCgroup(this.deps.cgroupFs, plan);
    } catch {
      // Best effort: nothing of a room that never ran may linger, but a failed cleanup must not throw.
    }
    return { ok: false, reason };
  }
}
