/**
 * Serves the umbilical: one Unix socket per room whose policy allows any
 * request, bind-mounted into that room only (rooms/oci.ts). The room is the
 * socket a request came in on, never what the request claims; the peer's pid
 * (SO_PEERCRED, as bay0 sees it) goes into the record. Nothing here
 * waits on a peer: Bun's sockets are non-blocking, a reply that the peer does
 * not read is dropped with the connection, and each room has its own rate.
 */
import { chmodSync, rmSync } from "node:fs";
import type { Socket, UnixSocketListener } from "bun";
import {
  admit,
  encodeFrame,
  frameReader,
  refusal,
  type Refusal,
  type Reply,
  type UmbilicalRequest,
} from "../umbilical/protocol.ts";
import { formatPolicyError, parsePolicy } from "../policies/parse.ts";
import { tokenBucket } from "../rooms/output.ts";
import type { RoomPlan } from "../rooms/plan.ts";
import type { Courier } from "./courier.ts";
import type { RoomSupervisor } from "../rooms/supervisor.ts";
import type { Libc } from "../sys/libc.ts";
import { roomText, type Log } from "../sys/log.ts";

const REQUESTS_BURST = 10;
const REQUESTS_PER_SECOND = 2;
/** Refusals a connection may collect before bay0 hangs up on it. */
const ABUSE_LIMIT = 5;
/** Connections one room may hold open at once; more are closed on arrival. */
const CONNECTIONS_PER_ROOM = 4;
/** A frame must arrive whole this soon after its first byte, and an idle connection (no request pending) is closed after IDLE_MS. */
const FRAME_MS = 10_000;
const IDLE_MS = 60_000;
const SWEEP_MS = 5_000;
/** Refusals logged (and so audited) per room: beyond, they are counted into the next one logged, so a flood cannot flood the log. */
const LOGGED_BURST = 20;
const LOGGED_PER_SECOND = 1;

type Connection = {
  pid: number | null;
  read: ReturnType<typeof frameReader>;
  refusals: number;
  busy: boolean;
  closing: boolean;
  partialSince: number | null;
  activeAt: number;
};

export type Umbilical = { open(plan: RoomPlan): string | null; close(plan: RoomPlan): void };

/** Bun's sockets carry their descriptor as `fd` at run time, though its types do not say so. */
function peerPid(libc: Libc, socket: Socket<Connection>): number | null {
  const fd: unknown = Reflect.get(socket, "fd");
  const pid = typeof fd === "number" ? libc.peerPid(fd) : null;
  return pid?.ok ? pid.value : null;
}

export function createUmbilical(
  libc: Libc,
  log: Log,
  supervisor: () => RoomSupervisor | null,
  courier: Courier,
): Umbilical {
  const listeners = new Map<
    string,
    { listener: UnixSocketListener<Connection>; sweep: ReturnType<typeof setInterval> }
  >();

  const answer = async (plan: RoomPlan, request: UmbilicalRequest): Promise<Reply> => {
    const rooms = supervisor();
    if (rooms === null) return refusal("unavailable", "rooms are unavailable");
    switch (request.type) {
      case "room.status": {
        const self = rooms.snapshot().find((r) => r.id === plan.id);
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
        const parsed = parsePolicy(request.policy, `${plan.id}:umbilical`);
        if (!parsed.ok) return refusal("malformed", parsed.errors.map(formatPolicyError).join("; "));
        const started = await rooms.spawnChild(plan.id, parsed.policy);
        return started.ok ? { ok: true, room: started.plan.id } : refusal("refused", started.reason);
      }
      case "courier.send":
        return courier(plan, request.path);
    }
  };

  const open = (plan: RoomPlan): string | null => {
    const allow = plan.policy.umbilical.allow;
    if (allow.length === 0) return null;
    const now = (): number => performance.now();
    const rate = tokenBucket(REQUESTS_BURST, REQUESTS_PER_SECOND, now);
    const logged = tokenBucket(LOGGED_BURST, LOGGED_PER_SECOND, now);
    let unlogged = 0;
    const live = new Set<Socket<Connection>>();
    const hangUp = (socket: Socket<Connection>): void => {
      socket.data.closing = true;
      socket.end();
    };
    const send = (socket: Socket<Connection>, reply: Reply): void => {
      const frame = encodeFrame(reply);
      // Bun keeps no unsent bytes: a peer whose socket buffer is full gets no partial frame, only the end.
      if (socket.write(frame) < frame.length) hangUp(socket);
    };
    const refuse = (socket: Socket<Connection>, type: string, reply: Refusal, close = false): void => {
      if (logged.take(1)) {
        log.warn("umbilical.refused", {
          room: plan.id,
          pid: socket.data.pid,
          type,
          code: reply.error.code,
          reason: roomText(reply.error.message),
          ...(unlogged > 0 ? { unlogged } : {}),
        });
        unlogged = 0;
      } else unlogged += 1;
      send(socket, reply);
      socket.data.refusals += 1;
      if (close || socket.data.refusals >= ABUSE_LIMIT) hangUp(socket);
    };
    // Slow or silent peers hold nothing for long: a half-sent frame or an idle connection is closed.
    const sweep = setInterval(() => {
      const t = now();
      for (const socket of live) {
        const { partialSince, busy, activeAt } = socket.data;
        if ((partialSince !== null && t - partialSince > FRAME_MS) || (!busy && t - activeAt > IDLE_MS)) hangUp(socket);
      }
    }, SWEEP_MS);
    const serve = async (socket: Socket<Connection>, body: string): Promise<void> => {
      const admitted = admit(body, allow);
      if (!admitted.ok) return refuse(socket, "?", admitted.reply);
      const { type } = admitted.request;
      if (!rate.take(1))
        return refuse(socket, type, refusal("rate_limited", `more than ${REQUESTS_PER_SECOND} requests a second`));
      // One request at a time per connection: a room cannot pile up work in bay0.
      if (socket.data.busy) return refuse(socket, type, refusal("rate_limited", "one request at a time"));
      socket.data.busy = true;
      const reply = await answer(plan, admitted.request).catch((error: unknown) =>
        refusal("unavailable", String(error)),
      );
      socket.data.busy = false;
      socket.data.activeAt = now();
      log.info("umbilical.request", {
        room: plan.id,
        pid: socket.data.pid,
        type,
        ok: reply.ok,
        ...(reply.ok ? {} : { code: reply.error.code }),
      });
      if (!reply.ok) socket.data.refusals += 1;
      send(socket, reply);
    };
    try {
      rmSync(plan.dirs.umbilical, { force: true });
      const listener = Bun.listen<Connection>({
        unix: plan.dirs.umbilical,
        socket: {
          open: (socket) => {
            socket.data = {
              pid: peerPid(libc, socket),
              read: frameReader(),
              refusals: 0,
              busy: false,
              closing: false,
              partialSince: null,
              activeAt: now(),
            };
            if (live.size >= CONNECTIONS_PER_ROOM)
              return refuse(
                socket,
                "?",
                refusal("rate_limited", `more than ${CONNECTIONS_PER_ROOM} connections`),
                true,
              );
            live.add(socket);
          },
          close: (socket) => void live.delete(socket),
          data: (socket, chunk) => {
            if (socket.data.closing) return;
            const { bodies, oversized, pending } = socket.data.read(chunk);
            socket.data.activeAt = now();
            socket.data.partialSince = pending === 0 ? null : (socket.data.partialSince ?? now());
            for (const body of bodies) {
              // What follows a hang-up in the same chunk is never served.
              if (socket.data.closing) return;
              void serve(socket, body).catch((error: unknown) =>
                log.error("bay0.error", { where: "umbilical", room: plan.id, error: String(error) }),
              );
            }
            if (oversized) refuse(socket, "?", refusal("oversized", "a frame over 64 KiB"), true);
          },
        },
      });
      // Only this room sees the socket (its directory is bay0's, the bind mount is the room's): its mapped users may connect.
      chmodSync(plan.dirs.umbilical, 0o666);
      listeners.set(plan.id, { listener, sweep });
      return null;
    } catch (error) {
      clearInterval(sweep);
      return `umbilical ${plan.dirs.umbilical}: ${String(error)}`;
    }
  };

  return {
    open,
    close: (plan) => {
      const open = listeners.get(plan.id);
      open?.listener.stop(true);
      if (open) clearInterval(open.sweep);
      listeners.delete(plan.id);
      rmSync(plan.dirs.umbilical, { force: true });
    },
  };
}
