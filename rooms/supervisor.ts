import type { Policy } from "../policies/schema.ts";
import { subsetViolations, type SubsetViolation } from "../policies/subset.ts";
import { SIG, type Libc } from "../sys/libc.ts";
import type { Log } from "../sys/log.ts";
import type { ChildExit, Spawner } from "../sys/spawn.ts";
import { freezeRoomCgroup, isPopulated, killRoomCgroup, moveIntoCgroup, oomKills, type CgroupFs } from "./cgroup.ts";
import { crunRun } from "./crun.ts";
import { planRoom, type RoomPlan } from "./plan.ts";
import { createOutputLimiter } from "./output.ts";

export type RoomDeps = {
  libc: Libc;
  log: Log;
  spawner: Spawner;
  cgroupFs: CgroupFs;
  /** A file's text, or null (crun's pid file). */
  readFile: (path: string) => string | null;
  /**
   * The room builder (init/room-builder.ts): makes a room's cgroup node, root and OCI bundle before crun
   * runs, takes them away after; each null, or why not.
   */
  builder: { prepare(plan: RoomPlan): Promise<string | null>; teardown(plan: RoomPlan): Promise<string | null> };
  /** Names of mounted base images. */
  images: () => Set<string>;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  /** The room's umbilical socket (init/umbilical.ts): made before crun runs, gone with the room. */
  umbilical?: { open(plan: RoomPlan): Promise<string | null>; close(plan: RoomPlan): void };
  /**
   * The room's vault folder at plan.dirs.vault (init/vault.ts), for a policy with [vault]: bound before
   * crun runs, or why not (the vault is locked, or this machine has none); unbound with the room.
   */
  vault?: { open(plan: RoomPlan): string | null; close(plan: RoomPlan): void };
};

type LiveRoom = {
  plan: RoomPlan;
  parent: string | null;
  /** crun's pid: the room's monitor, whose exit is the room's end. */
  pid: number;
  /** True once crun wrote the pid file: the room's namespaces and cgroup exist. */
  started: boolean;
  startedAt: number;
  frozen: boolean;
  /** Why it is ending, when bay0 ended it. */
  ending: "killed" | "reset" | null;
  /** Why a start failed after crun was spawned (else crun's own last words say why). */
  failure: string | null;
  /** crun's last stderr lines, bounded: the reason when it fails before the room exists. */
  crunErrors: string[];
  /** A terminal room's console socket while bay0 waits for crun to send the terminal: listener, then connection. */
  console: { listener: number; connection: number | null } | null;
  /** The terminal has been handed to its consumer (or is not wanted). */
  terminalDone: boolean;
  /** The pseudo-terminal master bay0 keeps while the room lives: a restarted console gets it again. */
  terminal: number | null;
  exited: Promise<void>;
  oomKills: number;
};

export type StartResult = { ok: true; plan: RoomPlan } | { ok: false; reason: string };

const STARTED_POLL_MS = 10;
const STARTED_TIMEOUT_MS = 60_000;
const EMPTY_WAIT_POLLS = 200;
const CRUN_ERROR_LINES = 3;
const CRUN_ERROR_CHARS = 300;
/** Live children one room may have: each costs bay0 a crun monitor and bookkeeping. */
export const MAX_CHILDREN = 8;

const describe = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/**
 * bay0's rooms: starts them from policies, tracks them, learns of their
 * exits, and kills, resets, freezes or nests them on request. Every failure
 * is logged and confined to the room it concerns; nothing here throws, and
 * every start ends in exactly one `room.started` or `room.failed`.
 */
/** Who is told of a terminal room's pseudo-terminal master (the trusted console); the supervisor keeps the fd and closes it once the room is gone. */
export type TerminalHandler = (room: string, masterFd: number) => void;

export class RoomSupervisor {
  private readonly rooms = new Map<string, LiveRoom>();
  /**
   * Rooms being started, by id, from the first step: the id is theirs while the builder works (a second start of
   * it is refused, a parent's children count it), and a kill meanwhile cancels the start before crun runs.
   */
  private readonly starting = new Map<string, { parent: string | null; cancelled: boolean }>();
  private stopping = false;
  private terminalHandler: TerminalHandler | null = null;

  constructor(private readonly deps: RoomDeps) {}

  list(): { id: string; parent: string | null; started: boolean; plan: RoomPlan }[] {
    return [...this.rooms.values()].map((r) => ({ id: r.plan.id, parent: r.parent, started: r.started, plan: r.plan }));
  }

  /** Every live room with its state and cgroup node (the console's dashboard reads its usage there). */
  snapshot(): { id: string; started: boolean; frozen: boolean; uptimeMs: number; node: string }[] {
    const now = this.deps.now();
    return [...this.rooms.values()].map((r) => ({
      id: r.plan.id,
      started: r.started,
      frozen: r.frozen,
      uptimeMs: now - r.startedAt,
      node: r.plan.cgroup.node,
    }));
  }

  /** Terminals of rooms started from now on are shown to `handler`. */
  onTerminal(handler: TerminalHandler): void {
    this.terminalHandler = handler;
  }

  /** Every live room's terminal (a console that starts again takes them all). */
  terminals(): { room: string; fd: number }[] {
    return [...this.rooms.values()].flatMap((r) => (r.terminal === null ? [] : [{ room: r.plan.id, fd: r.terminal }]));
  }

  /** From now on every start is refused: the machine is shutting down. */
  stopAccepting(): void {
    this.stopping = true;
  }

  /** Starts a top-level room from its policy. */
  start(policy: Policy): Promise<StartResult> {
    return this.launch(planRoom(policy), null);
  }

  /**
   * Starts a child of a running room. The child's policy must be a subset
   * of its parent's (monotonic capability loss), the depth at most 5, and
   * the parent below MAX_CHILDREN live children.
   */
  spawnChild(parentId: string, policy: Policy): Promise<StartResult> {
    const parent = this.rooms.get(parentId);
    const id = `${parentId}/${policy.name}`;
    if (!parent)
      return Promise.resolve(this.refuse(id, [{ field: "parent", reason: `room '${parentId}' is not running` }]));
    const violations = subsetViolations(parent.plan.policy, policy, parent.plan.depth);
    const children = new Set([
      ...[...this.rooms.values()].filter((r) => r.parent === parentId).map((r) => r.plan.id),
      ...[...this.starting].filter(([, start]) => start.parent === parentId).map(([child]) => child),
    ]).size;
    if (children >= MAX_CHILDREN)
      violations.push({
        field: "nesting",
        reason: `room '${parentId}' already has ${children} child rooms, the most one room may have`,
      });
    if (violations.length > 0) return Promise.resolve(this.refuse(id, violations));
    return this.launch(planRoom(policy, parent.plan), parentId);
  }

  /** Kills a room and every room below it: all their processes die at once; one still being built never runs. */
  async kill(id: string, why: "killed" | "reset" = "killed"): Promise<boolean> {
    for (const [startingId, start] of this.starting)
      if (startingId === id || startingId.startsWith(`${id}/`)) start.cancelled = true;
    const room = this.rooms.get(id);
    if (!room) return this.starting.has(id);
    const family = [...this.rooms.values()].filter((r) => r.plan.id === id || r.plan.id.startsWith(`${id}/`));
    for (const member of family) member.ending ??= member === room ? why : "killed";
    this.killCgroup(room);
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
      room.frozen = frozen;
      this.deps.log.info(frozen ? "room.frozen" : "room.thawed", { room: id });
      return true;
    } catch (error) {
      this.deps.log.error("room.error", { room: id, error: describe(error) });
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

  /** Everything a room needs before crun runs it, made by the room builder: why not, or null. Never throws. */
  async prepare(plan: RoomPlan): Promise<string | null> {
    if (!this.deps.images().has(plan.policy.image)) return `image '${plan.policy.image}' is not available`;
    return this.deps.builder.prepare(plan).catch((error: unknown) => `preparing the room: ${describe(error)}`);
  }

  private async launch(plan: RoomPlan, parent: string | null): Promise<StartResult> {
    if (this.stopping) return this.refuse(plan.id, [{ field: "bay0", reason: "the machine is shutting down" }]);
    if (this.rooms.has(plan.id) || this.starting.has(plan.id))
      return { ok: false, reason: `room '${plan.id}' is already running` };
    const start = { parent, cancelled: false };
    this.starting.set(plan.id, start);
    try {
      return await this.run(plan, parent, start);
    } finally {
      this.starting.delete(plan.id);
    }
  }

  private async run(plan: RoomPlan, parent: string | null, start: { cancelled: boolean }): Promise<StartResult> {
    const { log } = this.deps;
    const startedAt = this.deps.now();
    log.info("room.starting", { room: plan.id, image: plan.policy.image, parent });
    const vault =
      plan.policy.vault === undefined
        ? null
        : this.deps.vault === undefined
          ? "this machine has no vault"
          : this.deps.vault.open(plan);
    const notReady = vault ?? (await this.prepare(plan)) ?? (await this.deps.umbilical?.open(plan)) ?? null;
    if (notReady !== null) return this.failed(plan, notReady);
    // What happened while the builder worked.
    if (this.stopping) return this.failed(plan, "the machine is shutting down");
    if (start.cancelled) return this.failed(plan, "killed while starting");

    let console: LiveRoom["console"] = null;
    if (plan.policy.terminal) {
      const listener = this.deps.libc.listenUnix(plan.dirs.consoleSocket);
      if (!listener.ok) return this.failed(plan, `console socket ${plan.dirs.consoleSocket}: ${listener.message}`);
      console = { listener: listener.value, connection: null };
    }
    let room: LiveRoom;
    try {
      const output = createOutputLimiter(log, plan.id, this.deps.now);
      const crunErrors: string[] = [];
      const child = crunRun(this.deps.spawner, plan, (stream, line) => {
        if (stream === "stderr") {
          crunErrors.push(line.slice(0, CRUN_ERROR_CHARS));
          if (crunErrors.length > CRUN_ERROR_LINES) crunErrors.shift();
        }
        output.line(stream, line);
      });
      room = {
        plan,
        parent,
        pid: child.pid,
        started: false,
        startedAt,
        frozen: false,
        ending: null,
        failure: null,
        crunErrors,
        console,
        terminalDone: console === null,
        terminal: null,
        exited: Promise.resolve(),
        oomKills: 0,
      };
      const live = room;
      this.rooms.set(plan.id, live);
      live.exited = child.exited
        .then((exit) => this.onExit(live, exit, output.flush, startedAt))
        .catch((error: unknown) => log.error("room.error", { room: plan.id, error: describe(error) }))
        .finally(() => this.forget(live));
    } catch (error) {
      if (console !== null) this.deps.libc.close(console.listener);
      return this.failed(plan, `crun: ${describe(error)}`);
    }

    const parentPlan = parent === null ? null : this.rooms.get(parent)?.plan;
    if (parentPlan) {
      // A child's crun monitor runs inside its parent's limits, not bay0's.
      try {
        moveIntoCgroup(this.deps.cgroupFs, parentPlan.cgroup.leaf, room.pid);
      } catch (error) {
        return this.abort(room, `crun monitor: ${describe(error)}`);
      }
    }

    while (!(this.takeTerminal(room) && this.markStartedIfCreated(room, startedAt))) {
      if (!this.rooms.has(plan.id)) break;
      if (this.deps.now() - startedAt > STARTED_TIMEOUT_MS)
        return this.abort(room, `crun did not create the room within ${STARTED_TIMEOUT_MS / 1000} s`);
      await this.deps.sleep(STARTED_POLL_MS);
    }
    await (room.started ? Promise.resolve() : room.exited);
    return room.started ? { ok: true, plan } : { ok: false, reason: room.failure ?? this.crunFailure(room) };
  }

  /** Ends a start that went wrong after crun was spawned; onExit logs `room.failed`. */
  private async abort(room: LiveRoom, reason: string): Promise<StartResult> {
    room.failure = reason;
    const killed = this.deps.libc.kill(room.pid, SIG.SIGKILL);
    if (!killed.ok) this.deps.log.warn("room.error", { room: room.plan.id, error: `killing crun: ${killed.message}` });
    this.killCgroup(room);
    await room.exited;
    return { ok: false, reason };
  }

  /**
   * For a terminal room: accepts crun's connection on the console socket and
   * takes the pseudo-terminal master it sends, non-blocking, to the handler.
   * True once that is done (at once for rooms without a terminal).
   */
  private takeTerminal(room: LiveRoom): boolean {
    if (room.terminalDone || room.console === null) return true;
    const { libc } = this.deps;
    if (room.console.connection === null) {
      const accepted = libc.accept(room.console.listener);
      if (!accepted.ok) return false;
      room.console.connection = accepted.value;
    }
    const received = libc.receiveFd(room.console.connection);
    if (!received.ok) return false;
    this.closeConsole(room);
    room.terminalDone = true;
    libc.setNonBlocking(received.value);
    room.terminal = received.value;
    this.terminalHandler?.(room.plan.id, received.value);
    return true;
  }

  private closeConsole(room: LiveRoom): void {
    if (room.console === null) return;
    if (room.console.connection !== null) this.deps.libc.close(room.console.connection);
    this.deps.libc.close(room.console.listener);
    room.console = null;
  }

  /** True once crun has created the room (its pid file exists); logs `room.started` the first time. */
  private markStartedIfCreated(room: LiveRoom, startedAt: number): boolean {
    if (room.started) return true;
    if (room.failure !== null || this.deps.readFile(room.plan.dirs.pidFile) === null) return false;
    room.started = true;
    this.deps.log.info("room.started", { room: room.plan.id, spawn_ms: this.deps.now() - startedAt, pid: room.pid });
    return true;
  }

  private crunFailure(room: LiveRoom): string {
    return room.crunErrors.length > 0 ? `crun: ${room.crunErrors.join(" / ")}` : "crun ended before the room existed";
  }

  private async onExit(room: LiveRoom, exit: ChildExit, flush: () => void, startedAt: number): Promise<void> {
    const { log } = this.deps;
    const id = room.plan.id;
    flush();
    this.markStartedIfCreated(room, startedAt);
    this.checkOomOf(room);
    if (!room.started) {
      const reason = room.failure ?? (room.ending === null ? this.crunFailure(room) : "killed while starting");
      log.error("room.failed", { room: id, reason, status: exit.status, signal: exit.signal });
    } else if (room.ending === null) log.info("room.exited", { room: id, status: exit.status, signal: exit.signal });
    else log.info("room.killed", { room: id, reason: room.ending, status: exit.status, signal: exit.signal });
    // A room that ends on its own still takes its child rooms with it.
    if (room.ending === null && isPopulated(this.deps.cgroupFs, room.plan.cgroup.node)) this.killCgroup(room);
    for (let i = 0; i < EMPTY_WAIT_POLLS && isPopulated(this.deps.cgroupFs, room.plan.cgroup.leaf); i++)
      await this.deps.sleep(10);
  }

  /** The last step of every room, however it ended: its root and cgroup go, and bay0 forgets it. */
  private async forget(room: LiveRoom): Promise<void> {
    this.closeConsole(room);
    if (room.terminal !== null) this.deps.libc.close(room.terminal);
    await this.cleanUp(room.plan);
    this.rooms.delete(room.plan.id);
    this.deps.log.debug("room.removed", { room: room.plan.id });
  }

  private killCgroup(room: LiveRoom): void {
    try {
      killRoomCgroup(this.deps.cgroupFs, room.plan);
    } catch (error) {
      this.deps.log.error("room.error", { room: room.plan.id, error: describe(error) });
    }
  }

  private checkOomOf(room: LiveRoom): void {
    const kills = oomKills(this.deps.cgroupFs, room.plan);
    if (kills > room.oomKills) {
      room.oomKills = kills;
      this.deps.log.warn("room.oom", { room: room.plan.id, oom_kills: kills });
    }
  }

  /** A start that failed before crun ran: logged, and nothing of the room may linger. */
  private async failed(plan: RoomPlan, reason: string): Promise<StartResult> {
    this.deps.log.error("room.failed", { room: plan.id, reason });
    await this.cleanUp(plan);
    return { ok: false, reason };
  }

  /** Its socket, vault folder, root and cgroup go; a failure is logged, never thrown (the room is forgotten still). */
  private async cleanUp(plan: RoomPlan): Promise<void> {
    const warn = (error: unknown): void =>
      this.deps.log.warn("room.cleanup", { room: plan.id, error: describe(error) });
    try {
      this.deps.umbilical?.close(plan);
      this.deps.vault?.close(plan);
    } catch (error) {
      warn(error);
    }
    const error = await this.deps.builder.teardown(plan).catch((thrown: unknown) => describe(thrown));
    if (error !== null) warn(error);
  }
}
