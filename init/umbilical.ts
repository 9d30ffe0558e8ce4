/**
 * bay0's side of the umbilical. Its server (`bay0 umbilical`,
 * umbilical/serve.ts) is a resident helper that reads rooms' frames and
 * nested policies' TOML; the room builder makes each room's socket directory
 * (owned by the server's user, bind-mounted at the room's /run/anchor, so a
 * server started again serves the same rooms); bay0 checks every forwarded
 * request against the room's grants and a rate of its own, and decides.
 */
import { policySchema } from "../policies/schema.ts";
import { tokenBucket } from "../rooms/output.ts";
import type { RoomPlan } from "../rooms/plan.ts";
import type { RoomSupervisor } from "../rooms/supervisor.ts";
import type { Libc } from "../sys/libc.ts";
import type { Log } from "../sys/log.ts";
import type { Spawner } from "../sys/spawn.ts";
import {
  fromUmbilicalSchema,
  refusal,
  UMBILICAL_LINE_MAX,
  UMBILICAL_RATE,
  UMBILICAL_USER,
  type Forwarded,
  type FromUmbilical,
  type Reply,
} from "../umbilical/channel.ts";
import type { ToUmbilical } from "../umbilical/to-umbilical.ts";
import type { Courier } from "./courier.ts";
import { keepResident, type ResidentChild } from "./resident.ts";

/** Twice the server's own rate: reached only by a server that no longer keeps it. */
const RATE = { burst: 2 * UMBILICAL_RATE.burst, perSecond: 2 * UMBILICAL_RATE.perSecond };
/** A room starts without waiting longer for its socket: a server down now makes it when it is back. */
const LISTEN_WAIT_MS = 5000;

export type Umbilical = {
  open(plan: RoomPlan): Promise<string | null>;
  close(plan: RoomPlan): void;
  stopRestarting(): void;
  /** Test hook: the server killed as a crash would. */
  kill(): boolean;
};

export type UmbilicalDeps = {
  libc: Libc;
  log: Log;
  spawner: Spawner;
  now: () => number;
  supervisor: () => RoomSupervisor | null;
  courier: Courier;
};

export function startUmbilical(deps: UmbilicalDeps): Umbilical {
  const { log } = deps;
  const rooms = new Map<string, { plan: RoomPlan; rate: ReturnType<typeof tokenBucket> }>();
  const listening = new Map<string, (error: string | null) => void>();
  const openMessage = (plan: RoomPlan): ToUmbilical => ({
    type: "open",
    room: plan.id,
    dir: plan.dirs.umbilical,
    allow: plan.policy.umbilical.allow,
  });

  const answer = async (plan: RoomPlan, request: Forwarded): Promise<Reply> => {
    const supervisor = deps.supervisor();
    if (supervisor === null) return refusal("unavailable", "rooms are unavailable");
    switch (request.type) {
      case "room.status": {
        const self = supervisor.snapshot().find((r) => r.id === plan.id);
        const { memory_max, pids_max, cpu_max } = plan.policy.limits;
        return {
          ok: true,
          room: plan.id,
          state: self?.frozen ? "frozen" : "running",
          uptime_ms: Math.round(self?.uptimeMs ?? 0),
          limits: { memory_max, pids_max, cpu_max: cpu_max ?? null },
        };
      }
      case "room.spawn": {
        const policy = policySchema.safeParse(request.policy);
        if (!policy.success) return refusal("malformed", "the policy is invalid");
        const started = await supervisor.spawnChild(plan.id, policy.data);
        return started.ok ? { ok: true, room: started.plan.id } : refusal("refused", started.reason);
      }
      case "courier.send":
        return deps.courier(plan, request.path);
    }
  };

  const onMessage = (child: ResidentChild<ToUmbilical>, message: FromUmbilical): void => {
    if (message.type === "listening") {
      listening.get(message.room)?.(message.error);
      listening.delete(message.room);
      return;
    }
    const room = rooms.get(message.room);
    const { type } = message.request;
    const decided: Promise<Reply> =
      room === undefined
        ? Promise.resolve(refusal("unavailable", "no such room"))
        : !room.plan.policy.umbilical.allow.includes(type)
          ? Promise.resolve(refusal("not_allowed", `this room's policy does not allow ${type}`))
          : !room.rate.take(1)
            ? Promise.resolve(refusal("rate_limited", "too many requests"))
            : answer(room.plan, message.request).catch((error: unknown) => refusal("unavailable", String(error)));
    void decided.then((reply) => {
      log.info("umbilical.request", {
        room: message.room,
        pid: message.pid,
        type,
        ok: reply.ok,
        ...(reply.ok ? {} : { code: reply.error.code }),
      });
      child.write({ type: "reply", id: message.id, reply });
    });
  };

  const resident = keepResident<ToUmbilical, FromUmbilical>(deps, {
    name: "umbilical",
    prefix: "umbilical",
    reply: fromUmbilicalSchema,
    user: UMBILICAL_USER,
    channel: false,
    lineMax: UMBILICAL_LINE_MAX,
    onStart: (child) => {
      for (const { plan } of rooms.values()) child.write(openMessage(plan));
    },
    onMessage,
    onExit: () => undefined,
  });
  resident.start();

  return {
    async open(plan) {
      if (plan.policy.umbilical.allow.length === 0) return null;
      rooms.set(plan.id, { plan, rate: tokenBucket(RATE.burst, RATE.perSecond, deps.now) });
      const child = resident.current();
      if (child === null) return null;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const error = await new Promise<string | null>((resolve) => {
        listening.set(plan.id, resolve);
        timer = setTimeout(() => resolve(null), LISTEN_WAIT_MS);
        child.write(openMessage(plan));
      });
      clearTimeout(timer);
      listening.delete(plan.id);
      return error;
    },
    close(plan) {
      if (!rooms.delete(plan.id)) return;
      resident.current()?.write({ type: "close", room: plan.id });
    },
    stopRestarting: resident.stopRestarting,
    kill: resident.kill,
  };
}
