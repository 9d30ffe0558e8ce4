/**
 * bay0's side of the room builder (rooms/builder.ts), a resident helper:
 * each request waits for its answer by id, at most BUILD_MS. A builder that
 * dies fails the starts it was building; what it was taking away is asked
 * of the next one (taking away is idempotent). One that does not answer in
 * time is killed, and a new one takes over. Once the machine shuts down, a
 * builder gone answers everything at once: there is no next one.
 */
import { builderReplySchema, type BuilderReply, type BuilderRequest } from "../rooms/builder-protocol.ts";
import type { RoomPlan } from "../rooms/plan.ts";
import type { Libc } from "../sys/libc.ts";
import type { Log } from "../sys/log.ts";
import type { Spawner } from "../sys/spawn.ts";
import { keepResident } from "./resident.ts";

/** Far above a start's building under emulation (under a second). */
const BUILD_MS = 30_000;

export type RoomBuilder = {
  /** The room's cgroup, root and bundle made: null, or why not. */
  prepare(plan: RoomPlan): Promise<string | null>;
  /** All of that taken away again: null, or why not. */
  teardown(plan: RoomPlan): Promise<string | null>;
  stopRestarting(): void;
  /** Test hook: the builder killed as a crash would. */
  kill(): boolean;
};

type Pending = { request: BuilderRequest; sentTo: number | null; done: (error: string | null) => void };

export function startRoomBuilder(deps: { libc: Libc; log: Log; spawner: Spawner; now: () => number }): RoomBuilder {
  const pending = new Map<number, Pending>();
  let nextId = 1;
  let stopping = false;
  const SHUTTING_DOWN = "the machine is shutting down";
  const send = (entry: Pending): void => {
    const child = builder.current();
    if (child === null) return;
    entry.sentTo = child.generation;
    child.write(entry.request);
  };
  const builder = keepResident<BuilderRequest, BuilderReply>(deps, {
    name: "builder",
    prefix: "rooms",
    reply: builderReplySchema,
    channel: false,
    onStart: () => {
      for (const entry of pending.values()) send(entry);
    },
    onMessage: (_child, reply) => pending.get(reply.id)?.done(reply.error),
    onExit: (child) => {
      for (const entry of pending.values()) {
        if (stopping) entry.done(SHUTTING_DOWN);
        if (stopping || entry.sentTo !== child.generation) continue;
        if (entry.request.do === "prepare") entry.done(`the room builder ended while building the room`);
        else entry.sentTo = null;
      }
    },
  });

  const ask = (what: BuilderRequest["do"], plan: RoomPlan): Promise<string | null> =>
    stopping && builder.current() === null
      ? Promise.resolve(SHUTTING_DOWN)
      : new Promise((resolve) => {
          const id = nextId++;
          const slash = plan.id.lastIndexOf("/");
          const parent = slash < 0 ? null : { id: plan.id.slice(0, slash), depth: plan.depth - 1 };
          const timer = setTimeout(() => {
            const asked = entry.sentTo;
            entry.done(`the room builder did not answer within ${BUILD_MS / 1000} s`);
            // Only the builder that was asked is stalled; one started since has not been asked yet.
            if (asked !== null && asked === builder.current()?.generation) builder.kill();
          }, BUILD_MS);
          const entry: Pending = {
            request: { id, do: what, room: plan.id, policy: plan.policy, parent },
            sentTo: null,
            done: (error) => {
              clearTimeout(timer);
              pending.delete(id);
              resolve(error);
            },
          };
          pending.set(id, entry);
          send(entry);
        });

  builder.start();
  return {
    prepare: (plan) => ask("prepare", plan),
    teardown: (plan) => ask("teardown", plan),
    stopRestarting: () => {
      stopping = true;
      builder.stopRestarting();
      // None running now, and none will start: what waits for one is answered.
      if (builder.current() === null) for (const entry of pending.values()) entry.done(SHUTTING_DOWN);
    },
    kill: builder.kill,
  };
}
