/**
 * The umbilical's server (`bay0 umbilical`): a resident helper, run as a user
 * of its own (UMBILICAL_USER), that serves every room's socket. A room is the
 * socket a request came in on, never what the request claims; the peer's pid
 * (SO_PEERCRED) goes with it. It reads the frames, admits what the room's
 * policy grants, parses a nested room's TOML, and forwards each request to
 * bay0 (umbilical/channel.ts), which decides and answers; a hostile frame
 * or policy that breaks it breaks only it, and bay0 starts it again. Nothing
 * here waits on a peer: sockets are non-blocking, a reply the peer does not
 * read is dropped with the connection, and each room has its own rate.
 */
import { chmodSync, rmSync } from "node:fs";
import type { Socket, UnixSocketListener } from "bun";
import { formatPolicyError, parsePolicy } from "../policies/parse.ts";
import { tokenBucket } from "../rooms/output.ts";
import { parseJsonOrNull } from "../sys/files.ts";
import { openHelperLibc } from "../sys/libc-helper.ts";
import { createLineSplitter } from "../sys/lines.ts";
import { createLog, roomText } from "../sys/log.ts";
import { refusal, type FromUmbilical, type Forwarded, type Refusal, type Reply, UMBILICAL_RATE } from "./channel.ts";
import { toUmbilicalSchema, UMBILICAL_SOCKET } from "./to-umbilical.ts";
import { admit, encodeFrame, frameReader, type UmbilicalRequest } from "./protocol.ts";
import type { UMBILICAL_REQUESTS } from "../policies/schema.ts";

/** Refusals a connection may collect before it is hung up on. */
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
/** A forwarded request longer than this (a policy's data as JSON) is refused here rather than cut on its way to bay0. */
const FORWARD_MAX = 200 * 1024;

type Connection = {
  pid: number | null;
  read: ReturnType<typeof frameReader>;
  refusals: number;
  busy: boolean;
  closing: boolean;
  partialSince: number | null;
  activeAt: number;
};

export type Served = {
  open(room: string, dir: string, allow: readonly (typeof UMBILICAL_REQUESTS)[number][]): string | null;
  close(room: string): void;
};

/**
 * Serves rooms' sockets; `forward` hands an admitted request to bay0 and
 * resolves with bay0's reply. `peerPid` reads a connection's SO_PEERCRED.
 */
export function createServer(
  log: ReturnType<typeof createLog>,
  forward: (room: string, pid: number | null, request: Forwarded) => Promise<Reply>,
  peerPid: (fd: number) => number | null,
  now: () => number = () => performance.now(),
): Served {
  const listeners = new Map<
    string,
    { listener: UnixSocketListener<Connection>; sweep: ReturnType<typeof setInterval>; path: string }
  >();

  const close = (room: string): void => {
    const opened = listeners.get(room);
    if (opened === undefined) return;
    opened.listener.stop(true);
    clearInterval(opened.sweep);
    listeners.delete(room);
    rmSync(opened.path, { force: true });
  };

  /** A room.spawn's TOML, parsed here: bay0 gets its plain data, or the room its located errors. */
  const prepare = (room: string, request: UmbilicalRequest): Forwarded | Refusal => {
    if (request.type !== "room.spawn") return request;
    const parsed = parsePolicy(request.policy, `${room}:umbilical`);
    if (!parsed.ok) return refusal("malformed", parsed.errors.map(formatPolicyError).join("; "));
    return { type: "room.spawn", policy: parsed.data };
  };

  const open: Served["open"] = (room, dir, allow) => {
    close(room);
    const path = `${dir}/${UMBILICAL_SOCKET}`;
    const rate = tokenBucket(UMBILICAL_RATE.burst, UMBILICAL_RATE.perSecond, now);
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
    /** Every refusal counts, logged or answered: the fifth closes the connection. */
    const answer = (socket: Socket<Connection>, reply: Reply, close = false): void => {
      send(socket, reply);
      if (!reply.ok) socket.data.refusals += 1;
      if (close || socket.data.refusals >= ABUSE_LIMIT) hangUp(socket);
    };
    const refuse = (socket: Socket<Connection>, type: string, reply: Refusal, close = false): void => {
      if (logged.take(1)) {
        log.warn("umbilical.refused", {
          room,
          pid: socket.data.pid,
          type,
          code: reply.error.code,
          reason: roomText(reply.error.message),
          ...(unlogged > 0 ? { unlogged } : {}),
        });
        unlogged = 0;
      } else unlogged += 1;
      answer(socket, reply, close);
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
        return refuse(socket, type, refusal("rate_limited", `more than ${UMBILICAL_RATE.perSecond} requests a second`));
      // One request at a time per connection, its parsing included: a room cannot pile up work here or in bay0.
      if (socket.data.busy) return refuse(socket, type, refusal("rate_limited", "one request at a time"));
      socket.data.busy = true;
      const reply = await decide(socket, type, admitted.request);
      socket.data.busy = false;
      socket.data.activeAt = now();
      if (!socket.data.closing) answer(socket, reply);
    };
    /** A granted request's reply (a connection closed meanwhile gets none, but its request was seen through). */
    const decide = async (socket: Socket<Connection>, type: string, admitted: UmbilicalRequest): Promise<Reply> => {
      // Parsed on a later turn: the frames after it in this read meet a busy connection.
      await new Promise((resolve) => setImmediate(resolve));
      const request = prepare(room, admitted);
      if ("ok" in request) {
        // Granted but malformed: an answered request, as bay0 records those.
        log.info("umbilical.request", { room, pid: socket.data.pid, type, ok: false, code: request.error.code });
        return request;
      }
      if (JSON.stringify(request).length > FORWARD_MAX)
        return refusal("oversized", "the request is too big to forward");
      return forward(room, socket.data.pid, request);
    };
    try {
      rmSync(path, { force: true });
      const listener = Bun.listen<Connection>({
        unix: path,
        socket: {
          open: (socket) => {
            const fd: unknown = Reflect.get(socket, "fd");
            socket.data = {
              pid: typeof fd === "number" ? peerPid(fd) : null,
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
                log.error("umbilical.error", { room, error: String(error) }),
              );
            }
            if (oversized) refuse(socket, "?", refusal("oversized", "a frame over 64 KiB"), true);
          },
        },
      });
      // Only this room sees the socket (its directory is bind-mounted into it alone): its mapped users may connect.
      chmodSync(path, 0o666);
      listeners.set(room, { listener, sweep, path });
      return null;
    } catch (error) {
      clearInterval(sweep);
      return `umbilical ${path}: ${String(error)}`;
    }
  };

  return { open, close };
}

/** The helper's main: bay0's lines on stdin, its own on stdout. */
export function runUmbilical(): void {
  const libc = openHelperLibc();
  const send = (message: FromUmbilical): void => void process.stdout.write(`${JSON.stringify(message)}\n`);
  const log = createLog([(line) => void process.stdout.write(`${line}\n`)]);
  let nextId = 1;
  const waiting = new Map<number, (reply: Reply) => void>();
  const server = createServer(
    log,
    (room, pid, request) =>
      new Promise((resolve) => {
        const id = nextId++;
        waiting.set(id, resolve);
        send({ type: "request", id, room, pid, request });
      }),
    (fd) => {
      const pid = libc.peerPid(fd);
      return pid.ok ? pid.value : null;
    },
  );
  const lines = createLineSplitter((line) => {
    const message = toUmbilicalSchema.safeParse(parseJsonOrNull(line));
    if (!message.success) return log.warn("umbilical.error", { where: "channel", error: message.error.message });
    const m = message.data;
    if (m.type === "open") send({ type: "listening", room: m.room, error: server.open(m.room, m.dir, m.allow) });
    else if (m.type === "close") server.close(m.room);
    else {
      waiting.get(m.id)?.(m.reply);
      waiting.delete(m.id);
    }
  }, 1 << 20);
  void (async () => {
    for await (const chunk of Bun.stdin.stream()) lines.push(chunk);
    // bay0 closed the channel: it is shutting down.
    process.exit(0);
  })();
}
