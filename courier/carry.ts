/**
 * One transfer's carrier (`bay0 courier-carry`): bay0 starts it as root for
 * each courier.send, never PID 1, so whatever a room's path or file does to
 * it, it dies alone. It opens the sender's file confined to the sender's
 * root (sys/room-files.ts), copies exactly its bytes into a staging file
 * only root can reach while hashing them (the SHA-256 the person approves),
 * charged to the sender's memory, and replies. Once the person approved, it
 * runs the courier (courier/deliver.ts under crun, as the receiving room's
 * user) on those staged bytes: nothing is read from the sender or hashed
 * again. When bay0 ends its lines instead (denied), the copy is dropped.
 */
import { randomUUID } from "node:crypto";
import {
  closeSync,
  constants,
  mkdirSync,
  openSync,
  readSync,
  rmdirSync,
  rmSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { z } from "zod";
import { CGROUP_ROOT } from "../rooms/cgroup.ts";
import { CRUN_ROOT } from "../rooms/crun.ts";
import { ROOMS_RUN_DIR } from "../rooms/plan.ts";
import { SECCOMP_PROFILE } from "../init/layout.ts";
import { containersProfileSchema } from "../rooms/seccomp.ts";
import { parseJsonOrNull, readJsonOrNull, readTextOrNull } from "../sys/files.ts";
import { SIG } from "../sys/libc.ts";
import { openHelperLibc, type HelperLibc } from "../sys/libc-helper.ts";
import { closeInbox, openInbox, openRoomFile, type Inbox } from "../sys/room-files.ts";
import { createBunSpawner } from "../sys/spawn-bun.ts";
import { copyDeadlineMs, type CarryReply } from "./carry-protocol.ts";
import { carryRequestSchema, type CarryRequest } from "./carry-request.ts";
import { courierCgroup, courierConfig, MOUNT_POINTS } from "./sandbox.ts";

/** Staged files, root's alone (no room's user namespace maps root). */
const STAGING_ROOT = "/run/anchor/courier";
/** Couriers' bundles: beside the rooms' own directories (no room is called ".courier"), traversable by the couriers' user namespaces. */
const BUNDLES = `${ROOMS_RUN_DIR}/.courier`;
const CHUNK_BYTES = 1 << 20;
/** Memory a sender keeps beyond what its staged file takes, so staging never drives it into its own OOM killer. */
const MEMORY_MARGIN = 16 * 1024 * 1024;
const ENV = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" };
const courierResultSchema = z.union([
  z.object({ ok: z.literal(true), name: z.string() }),
  z.object({ ok: z.literal(false), reason: z.string() }),
]);

/**
 * What the carrier holds for the person's answer: a copy of the bytes (their
 * own staged file), or, when the sender has no memory left for a copy, the
 * sender's file itself, open, whose hash the courier checks as it copies.
 */
type Held = { size: number; sha256: string } & ({ copy: string } | { fd: number });
type Staged = Held & { cgroup: string };
export type StageRequest = Extract<CarryRequest, { do: "stage" }>;
type DeliverRequest = Extract<CarryRequest, { do: "deliver" }>;

const refused = (reason: string): CarryReply => ({ ok: false, reason });

/** What the sender's node may still take: null without a limit. */
function memoryLeft(cgroupNode: string): number | null {
  const max = Number((readTextOrNull(`${CGROUP_ROOT}${cgroupNode}/memory.max`) ?? "max").trim());
  const current = Number((readTextOrNull(`${CGROUP_ROOT}${cgroupNode}/memory.current`) ?? "0").trim());
  return Number.isFinite(max) ? max - current : null;
}

/** Hashes `size` bytes of `source`, copying them into `out` if there is one; null when the file holds fewer. */
function copyAndHash(source: number, out: number | null, size: number): string | null {
  const hasher = new Bun.CryptoHasher("sha256");
  const buffer = Buffer.alloc(Math.min(CHUNK_BYTES, Math.max(size, 1)));
  for (let at = 0; at < size;) {
    const got = readSync(source, buffer, 0, Math.min(buffer.length, size - at), at);
    if (got === 0) return null;
    for (let written = 0; out !== null && written < got;) written += writeSync(out, buffer, written, got - written);
    hasher.update(buffer.subarray(0, got));
    at += got;
  }
  return hasher.digest("hex");
}

/**
 * Opens the file the sender named, confined to its root and as its user
 * would, and copies exactly its bytes into `file` (made here, root's alone)
 * while hashing them: the size and SHA-256 the person approves, or why not.
 * `memoryLeft`: what the sender may still use, which the copy is charged to;
 * when it cannot hold the copy, the file is hashed where it lies and kept
 * open instead (the courier then checks the hash as it copies).
 */
export function stageFile(
  libc: HelperLibc,
  request: StageRequest,
  file: string,
  memoryLeft: number | null,
): { reply: CarryReply; held: Held | null } {
  const source = openRoomFile(libc, request.root, request.path, request.reader);
  if (!source.ok) return { reply: refused(source.reason), held: null };
  const { fd, size } = source;
  let kept = false;
  try {
    if (size > request.maxBytes)
      return {
        reply: refused(`the file is ${size} bytes; ${request.sender}'s policy sends at most ${request.maxBytes}`),
        held: null,
      };
    const copying = memoryLeft === null || size <= memoryLeft - MEMORY_MARGIN;
    const out = copying
      ? openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600)
      : null;
    let sha256: string | null;
    try {
      sha256 = copyAndHash(fd, out, size);
    } finally {
      if (out !== null) closeSync(out);
    }
    if (sha256 === null) {
      rmSync(file, { force: true });
      return { reply: refused("the file shrank while it was read"), held: null };
    }
    kept = !copying;
    return {
      reply: { ok: true, staged: { size, sha256 } },
      held: copying ? { copy: file, size, sha256 } : { fd, size, sha256 },
    };
  } finally {
    if (!kept) closeSync(fd);
  }
}

function stage(libc: HelperLibc, id: string, request: StageRequest): { reply: CarryReply; staged: Staged | null } {
  // Into a cgroup of the sender's: the staged pages are charged to its memory, and killing or freezing it does the same to this.
  const cgroup = `${CGROUP_ROOT}${request.cgroupNode}/.courier-stage-${process.pid}`;
  mkdirSync(cgroup);
  writeFileSync(`${cgroup}/cgroup.procs`, String(process.pid));
  mkdirSync(STAGING_ROOT, { recursive: true, mode: 0o700 });
  const file = `${STAGING_ROOT}/${id}`;
  const { reply, held } = stageFile(libc, request, file, memoryLeft(request.cgroupNode));
  return { reply, staged: held === null ? null : { ...held, cgroup } };
}

/** Runs the courier under crun on the staged bytes, with the receiver's folder and a staging folder beside it as its only view of any room. */
/** The rooms' base seccomp profile, which the courier's filter is built on. */
const loadProfile = () => containersProfileSchema.safeParse(readJsonOrNull(SECCOMP_PROFILE));

async function deliver(
  libc: HelperLibc,
  id: string,
  staged: Staged,
  request: DeliverRequest,
  profile: ReturnType<typeof loadProfile>,
): Promise<CarryReply> {
  if (!profile.success) return refused(`the seccomp profile ${SECCOMP_PROFILE} is missing or invalid`);
  const { receiver } = request;
  const bundle = `${BUNDLES}/${id}`;
  // Out of the sender's cgroup (the staged pages stay charged to it), so a sender killed now does not take the delivery along.
  writeFileSync(`${CGROUP_ROOT}/cgroup.procs`, String(process.pid));
  rmdirSync(staged.cgroup);
  let inbox: Inbox | null = null;
  let source: number | null = null;
  try {
    inbox = openInbox(libc, request.into, receiver.hostUser, `.courier-${id}`);
    if (inbox.freeBytes < staged.size)
      return refused(`${receiver.id} has ${inbox.freeBytes} bytes free for a file of ${staged.size}`);
    for (const dir of MOUNT_POINTS) mkdirSync(`${bundle}/root${dir}`, { recursive: true, mode: 0o755 });
    // Bytes no room can touch are copied as they are; the sender's own file is checked against the approved hash.
    const args =
      "copy" in staged ? [request.name, String(staged.size)] : [request.name, String(staged.size), staged.sha256];
    writeFileSync(
      `${bundle}/config.json`,
      JSON.stringify(courierConfig(id, receiver, `${bundle}/root`, args, profile.data)),
    );
    source = "copy" in staged ? openSync(staged.copy, constants.O_RDONLY | constants.O_NOFOLLOW) : staged.fd;
    let said = "";
    let complaint = "";
    const child = createBunSpawner(ENV).spawn(
      ["crun", "--root", CRUN_ROOT, "run", "--preserve-fds", "2", "--bundle", bundle, `anchor-courier-${id}`],
      (stream, line) => void (stream === "stdout" ? (said = line.slice(0, 1024)) : (complaint = line.slice(0, 300))),
      { fds: [source, inbox.fd, inbox.staging.fd] },
    );
    const deadlineMs = copyDeadlineMs(staged.size);
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
    if (late) return refused(`the courier did not finish within ${Math.round(deadlineMs / 1000)} s and was killed`);
    // Anything but the courier's line: the reason is crun's last words.
    const result = courierResultSchema.safeParse(parseJsonOrNull(said));
    if (!result.success)
      return refused(`the courier ended (${exit.signal ?? `status ${exit.status}`}) without a result: ${complaint}`);
    return result.data.ok ? { ok: true, delivered: result.data.name } : refused(result.data.reason);
  } finally {
    if (source !== null && "copy" in staged) closeSync(source);
    if (inbox !== null) closeInbox(inbox);
    rmSync(bundle, { recursive: true, force: true });
  }
}

export async function runCarry(): Promise<void> {
  const libc = openHelperLibc();
  const id = randomUUID().slice(0, 8);
  const say = (reply: CarryReply): void => void process.stdout.write(`${JSON.stringify(reply)}\n`);
  let staged: Staged | null = null;
  let profile: ReturnType<typeof loadProfile> | null = null;
  try {
    for await (const line of console) {
      const request = carryRequestSchema.safeParse(parseJsonOrNull(line));
      if (!request.success) {
        say(refused(`bad request: ${request.error.issues[0]?.message ?? "invalid"}`));
        break;
      }
      if (request.data.do === "stage" && staged === null) {
        const done = stage(libc, id, request.data);
        staged = done.staged;
        say(done.reply);
        if (staged === null) break;
        // Parsed while the person reads the prompt, not after the approval.
        profile = loadProfile();
      } else if (request.data.do === "deliver" && staged !== null) {
        say(await deliver(libc, id, staged, request.data, profile ?? loadProfile()));
        break;
      } else {
        say(refused(`a ${request.data.do} request out of turn`));
        break;
      }
    }
  } catch (error) {
    say(refused(error instanceof Error ? error.message : String(error)));
  } finally {
    if (staged !== null && "copy" in staged) rmSync(staged.copy, { force: true });
    if (staged !== null && "fd" in staged) closeSync(staged.fd);
  }
  process.exit(0);
}
