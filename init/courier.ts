/**
 * What bay0 does with a room's courier.send: one transfer at a time, a few
 * waiting, one per room, and a room the person denied waits a while
 * (courier/gate.ts). The file is opened confined to the sender's root and hashed, the
 * person sees it at the trusted prompt and picks where it goes, and a courier
 * process (courier/deliver.ts, confined by crun) copies it there. Every
 * decision and outcome is logged, and so audited.
 */
import { randomUUID } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { z } from "zod";
import { decide, destinations, refuseBySize, transferPrompt, type Destination, type Transfer } from "../courier/arbiter.ts";
import { createCourierGate, type Outcome } from "../courier/gate.ts";
import { fileNameOf } from "../courier/names.ts";
import { courierCgroup, courierConfig, courierDeadlineMs, MOUNT_POINTS } from "../courier/sandbox.ts";
import { refusal, type Reply } from "../courier/umbilical.ts";
import { CGROUP_ROOT } from "../rooms/cgroup.ts";
import { CRUN_ROOT } from "../rooms/crun.ts";
import { hostUser, ROOMS_RUN_DIR, type RoomPlan } from "../rooms/plan.ts";
import type { ContainersProfile } from "../rooms/seccomp.ts";
import { SIG, type Libc } from "../sys/libc.ts";
import { roomText, type Log } from "../sys/log.ts";
import { parseJsonOrNull } from "../sys/files.ts";
import { closeFd, closeInbox, openInbox, openRoomFile, sha256Of, type Inbox } from "../sys/room-files.ts";
import type { Spawner } from "../sys/spawn.ts";
import { exitText } from "./helper.ts";
import type { PromptAnswer, PromptRequest } from "../console/protocol.ts";

/** Beside the rooms' own directories (no room is called ".courier"), traversable by the couriers' user namespaces. */
const COURIER_DIR = `${ROOMS_RUN_DIR}/.courier`;
const resultSchema = z.union([z.object({ ok: z.literal(true), name: z.string() }), z.object({ ok: z.literal(false), reason: z.string() })]);

export type CourierDeps = {
  libc: Libc;
  log: Log;
  spawner: Spawner;
  profile: ContainersProfile;
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

  /** Runs the courier process for an approved transfer and reports what landed. */
  const carry = async (item: Transfer, sender: RoomPlan, to: Destination, source: number): Promise<Reply> => {
    const receiver = to.room;
    const id = randomUUID().slice(0, 8);
    const staging = `.courier-${id}`;
    const bundle = `${COURIER_DIR}/${id}`;
    const startedMs = performance.now();
    const about = { room: sender.id, to: receiver.id, into: to.kind === "vault" ? "vault" : "inbox", file: item.name, size: item.size, sha256: item.sha256 };
    const fail = (reason: string): Reply => {
      log.error("courier.failed", { ...about, reason });
      return refusal("refused", `not delivered: ${reason}`);
    };
    let inbox: Inbox | null = null;
    let release: (() => void) | null = null;
    try {
      if (!deps.running().some((room) => room.id === receiver.id)) return fail(`${receiver.id} is no longer running`);
      if (to.kind === "vault") {
        release = deps.vault.writing(`${item.name} from ${sender.id}`);
        if (release === null) return fail("the vault is no longer open");
      }
      // The folder as the vault's own mount holds it, not the room's bind of it: a link cannot cross mounts.
      const folder = `${deps.vault.roomsDir}/${receiver.policy.vault?.folder ?? ""}`;
      const place = to.kind === "vault" ? { kind: "vault" as const, folder, stagingDir: deps.vault.stagingDir } : { kind: "room" as const, rootDir: receiver.dirs.rootfs };
      inbox = openInbox(libc, place, hostUser(receiver.policy), staging);
      if (inbox.freeBytes < item.size) return fail(`${receiver.id} has ${inbox.freeBytes} bytes free for a file of ${item.size}`);
      for (const dir of MOUNT_POINTS) mkdirSync(`${bundle}/root${dir}`, { recursive: true, mode: 0o755 });
      writeFileSync(`${bundle}/config.json`, JSON.stringify(courierConfig(id, receiver, `${bundle}/root`, [item.name, String(item.size), item.sha256], deps.profile)));
      let said = "";
      let complaint = "";
      const child = deps.spawner.spawn(
        ["crun", "--root", CRUN_ROOT, "run", "--preserve-fds", "2", "--bundle", bundle, `anchor-courier-${id}`],
        (stream, line) => void (stream === "stdout" ? (said = line.slice(0, 1024)) : (complaint = line.slice(0, 300))),
        { fds: [source, inbox.fd, inbox.staging.fd] },
      );
      const deadlineMs = courierDeadlineMs(item.size);
      let late = false;
      const timer = setTimeout(() => {
        late = true;
        // The whole cgroup, frozen or not; crun alone while it has not made one yet.
        try {
          writeFileSync(`${CGROUP_ROOT}${courierCgroup(receiver, id)}/cgroup.kill`, "1");
        } catch {
          libc.kill(child.pid, SIG.SIGKILL);
        }
      }, deadlineMs);
      const exit = await child.exited;
      clearTimeout(timer);
      if (late) return fail(`the courier did not finish within ${Math.round(deadlineMs / 1000)} s and was killed`);
      // Anything but the courier's line: the reason is crun's last words.
      const result = resultSchema.safeParse(parseJsonOrNull(said));
      if (!result.success) return fail(`the courier ended (${exitText(exit)}) without a result: ${complaint}`);
      if (!result.data.ok) return fail(result.data.reason);
      log.info("courier.delivered", { ...about, file: result.data.name, ms: Math.round(performance.now() - startedMs) });
      return { ok: true, delivered: { to: receiver.id, path: `/${about.into}/${result.data.name}`, size: item.size, sha256: item.sha256 } };
    } catch (error) {
      return fail(error instanceof Error ? error.message : String(error));
    } finally {
      if (inbox !== null) closeInbox(inbox);
      rmSync(bundle, { recursive: true, force: true });
      release?.();
    }
  };

  const transfer = async (sender: RoomPlan, path: string, outcome: { value: Outcome }): Promise<Reply> => {
    const named = fileNameOf(path);
    if (!named.ok) return deny(sender, path, "policy", named.reason);
    const source = openRoomFile(libc, sender.dirs.rootfs, path, hostUser(sender.policy));
    if (!source.ok) return deny(sender, path, "policy", source.reason);
    try {
      const tooBig = refuseBySize(sender, source.size);
      if (tooBig !== null) return deny(sender, named.name, "policy", tooBig);
      const sha256 = await sha256Of(source.fd, source.size);
      if (sha256 === null) return deny(sender, named.name, "policy", "the file shrank while it was read");
      const item: Transfer = { from: sender.id, name: named.name, size: source.size, sha256 };
      log.info("courier.requested", { room: sender.id, file: item.name, size: item.size, sha256 });
      const to = destinations(sender, deps.running(), deps.vault.isOpen());
      if (to.length === 0) return deny(sender, item.name, "policy", "no running room accepts deliveries");
      const ask = deps.ask();
      if (ask === null) return deny(sender, item.name, "policy", "there is no trusted console to ask");
      const answer = await ask(transferPrompt(item, to));
      const decision = decide(answer.kind === "choice" ? answer : { index: 0, timedOut: false }, to);
      if (!decision.approved) {
        outcome.value = "denied";
        if (decision.stopSender) void deps.stop(sender).catch((error: unknown) => log.error("bay0.error", { where: "courier", room: sender.id, error: String(error) }));
        return deny(sender, item.name, decision.by, decision.reason);
      }
      outcome.value = "approved";
      log.info("courier.approved", { room: sender.id, to: decision.to.room.id, into: decision.to.kind === "vault" ? "vault" : "inbox", file: item.name, size: item.size, sha256, by: "human" });
      return await carry(item, sender, decision.to, source.fd);
    } finally {
      closeFd(source.fd);
    }
  };

  return (sender, path) => {
    const refused = gate.admit(sender.id);
    if (refused !== null) return Promise.resolve(deny(sender, path, "policy", refused));
    const outcome: { value: Outcome } = { value: "refused" };
    const run = queue.then(() => transfer(sender, path, outcome)).catch((error: unknown) => refusal("unavailable", String(error)));
    queue = run.finally(() => gate.settle(sender.id, outcome.value));
    return run;
  };
}
