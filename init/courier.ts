/**
 * What bay0 does with a room's courier.send: one transfer at a time, a few
 * waiting, one per room, and a room the person denied waits a while
 * (courier/gate.ts). A carrier helper per transfer (courier/carry.ts) opens
 * the file confined to the sender's root and stages a hashed copy no room can
 * reach; the person sees it at the trusted prompt and picks where it goes,
 * and the carrier has a courier (courier/deliver.ts, confined by crun) copy
 * those bytes there. bay0 decides and logs, and so audits, every step; it
 * never opens or reads a room's file itself.
 */
import { rmdirSync } from "node:fs";
import { decide, destinations, transferPrompt, type Transfer } from "../courier/arbiter.ts";
import { carryReplySchema, copyDeadlineMs, type CarryReply } from "../courier/carry-protocol.ts";
import type { CarryRequest } from "../courier/carry-request.ts";
import { createCourierGate, type Outcome } from "../courier/gate.ts";
import { fileNameOf } from "../courier/names.ts";
import { refusal, type Reply } from "../umbilical/channel.ts";
import { CGROUP_ROOT } from "../rooms/cgroup.ts";
import { hostUser, type RoomPlan } from "../rooms/plan.ts";
import { SIG, type Libc } from "../sys/libc.ts";
import { roomText, type Log } from "../sys/log.ts";
import type { Spawner } from "../sys/spawn.ts";
import { exitText, startHelper } from "./helper.ts";
import type { PromptAnswer, PromptRequest } from "../console/protocol.ts";

/** What bay0 allows the carrier beyond the copy's own deadline (its start, the inbox, crun) before it is killed. */
const CARRIER_SLACK_MS = 30_000;

export type CourierDeps = {
  libc: Libc;
  log: Log;
  spawner: Spawner;
  /** Rooms running now. */
  running: () => RoomPlan[];
  /** The trusted console's prompt, once there is one. */
  ask: () => ((request: PromptRequest) => Promise<PromptAnswer>) | null;
  /** Stops a room (the person chose "Deny and stop" at its request). */
  stop: (room: RoomPlan) => Promise<unknown>;
  /** Monotonic milliseconds (the cool-down after a denial). */
  clockMs: () => number;
  /** The vault, while it is open: where staged files wait, and a hold that keeps it from locking mid-write (null once it is not open). */
  vault: { roomsDir: string; stagingDir: string; isOpen(): boolean; writing(what: string): (() => void) | null };
};

export type Courier = (sender: RoomPlan, path: string) => Promise<Reply>;

export function createCourier(deps: CourierDeps): Courier {
  const { libc, log } = deps;
  const gate = createCourierGate(deps.clockMs);
  let queue: Promise<unknown> = Promise.resolve();

  const deny = (sender: RoomPlan, file: string, by: "human" | "timeout" | "policy", reason: string): Reply => {
    log.warn("courier.denied", { room: sender.id, file: roomText(file), by, reason: roomText(reason) });
    return refusal("refused", reason);
  };

  /** A transfer's carrier: each phase answered within its deadline, else it is killed and the phase fails with why. */
  const startCarrier = () => {
    let answer: (reply: CarryReply) => void = () => undefined;
    const carrier = startHelper(deps, ["courier-carry"], {
      prefix: "courier",
      reply: carryReplySchema,
      onReply: (reply) => answer(reply),
      input: true,
    });
    const { child } = carrier;
    let gone: CarryReply | null = null;
    const ended = child.exited.then((exit): CarryReply => {
      gone = { ok: false, reason: `the carrier ended (${exitText(exit)}): ${carrier.lastWords()}` };
      return gone;
    });
    return {
      ask: async (request: CarryRequest, deadlineMs: number): Promise<CarryReply> => {
        if (gone !== null) return gone;
        const timer = setTimeout(() => libc.kill(child.pid, SIG.SIGKILL), deadlineMs + CARRIER_SLACK_MS);
        try {
          const replied = new Promise<CarryReply>((resolve) => (answer = resolve));
          child.stdin?.write(`${JSON.stringify(request)}\n`);
          return await Promise.race([replied, ended]);
        } finally {
          clearTimeout(timer);
        }
      },
      end: async (cgroupNode: string): Promise<void> => {
        child.stdin?.end();
        await child.exited;
        // The carrier's cgroup in the sender's, if it was killed before it left it.
        rmdirSafely(`${CGROUP_ROOT}${cgroupNode}/.courier-stage-${String(child.pid)}`);
      },
    };
  };

  const transfer = async (sender: RoomPlan, path: string, outcome: { value: Outcome }): Promise<Reply> => {
    const named = fileNameOf(path);
    if (!named.ok) return deny(sender, path, "policy", named.reason);
    const carrier = startCarrier();
    try {
      const max = sender.policy.courier.max_size;
      const staged = await carrier.ask(
        {
          do: "stage",
          root: sender.dirs.rootfs,
          path,
          reader: hostUser(sender.policy),
          cgroupNode: sender.cgroup.node,
          maxBytes: max,
          sender: sender.id,
        },
        copyDeadlineMs(max),
      );
      if (!staged.ok) return deny(sender, named.name, "policy", staged.reason);
      if (!("staged" in staged)) return deny(sender, named.name, "policy", "the carrier answered out of turn");
      const { size, sha256 } = staged.staged;
      const item: Transfer = { from: sender.id, name: named.name, size, sha256 };
      log.info("courier.requested", { room: sender.id, file: item.name, size, sha256 });
      const to = destinations(sender, deps.running(), deps.vault.isOpen());
      if (to.length === 0) return deny(sender, item.name, "policy", "no running room accepts deliveries");
      const ask = deps.ask();
      if (ask === null) return deny(sender, item.name, "policy", "there is no trusted console to ask");
      const answer = await ask(transferPrompt(item, to));
      const decision = decide(answer.kind === "choice" ? answer : { index: 0, timedOut: false }, to);
      if (!decision.approved) {
        outcome.value = "denied";
        if (decision.stopSender)
          void deps
            .stop(sender)
            .catch((error: unknown) =>
              log.error("bay0.error", { where: "courier", room: sender.id, error: String(error) }),
            );
        return deny(sender, item.name, decision.by, decision.reason);
      }
      outcome.value = "approved";
      const receiver = decision.to.room;
      const about = {
        room: sender.id,
        to: receiver.id,
        into: decision.to.kind === "vault" ? "vault" : "inbox",
        file: item.name,
        size,
        sha256,
      };
      log.info("courier.approved", { ...about, by: "human" });
      const fail = (reason: string): Reply => {
        log.error("courier.failed", { ...about, reason: roomText(reason) });
        return refusal("refused", `not delivered: ${reason}`);
      };
      if (!deps.running().some((room) => room.id === receiver.id)) return fail(`${receiver.id} is no longer running`);
      const release =
        decision.to.kind === "vault" ? deps.vault.writing(`${item.name} from ${sender.id}`) : () => undefined;
      if (release === null) return fail("the vault is no longer open");
      const startedMs = performance.now();
      try {
        // The folder as the vault's own mount holds it, not the room's bind of it: a link cannot cross mounts.
        const into =
          decision.to.kind === "vault"
            ? {
                kind: "vault" as const,
                folder: `${deps.vault.roomsDir}/${receiver.policy.vault?.folder ?? ""}`,
                stagingDir: deps.vault.stagingDir,
              }
            : { kind: "room" as const, rootDir: receiver.dirs.rootfs };
        const delivered = await carrier.ask(
          {
            do: "deliver",
            name: item.name,
            receiver: {
              id: receiver.id,
              user: receiver.policy.user,
              hostUser: hostUser(receiver.policy),
              cgroupNode: receiver.cgroup.node,
            },
            into,
          },
          copyDeadlineMs(size),
        );
        if (!delivered.ok) return fail(delivered.reason);
        if (!("delivered" in delivered)) return fail("the carrier answered out of turn");
        log.info("courier.delivered", {
          ...about,
          file: delivered.delivered,
          ms: Math.round(performance.now() - startedMs),
        });
        return {
          ok: true,
          delivered: { to: receiver.id, path: `/${about.into}/${delivered.delivered}`, size, sha256 },
        };
      } finally {
        release();
      }
    } finally {
      void carrier.end(sender.cgroup.node);
    }
  };

  return (sender, path) => {
    const refused = gate.admit(sender.id);
    if (refused !== null) return Promise.resolve(deny(sender, path, "policy", refused));
    const outcome: { value: Outcome } = { value: "refused" };
    const run = queue
      .then(() => transfer(sender, path, outcome))
      .catch((error: unknown) => refusal("unavailable", String(error)));
    queue = run.finally(() => gate.settle(sender.id, outcome.value));
    return run;
  };
}

function rmdirSafely(path: string): void {
  try {
    rmdirSync(path);
  } catch {
    // Gone already (the carrier left it), or never made.
  }
}
