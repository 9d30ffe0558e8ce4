/**
 * The room builder (`bay0 builder`): a resident helper, root, that makes
 * what a room needs before crun runs it (its cgroup node with limits, its
 * root of image and tmpfs overlay, its OCI bundle with the seccomp filter)
 * and takes it away after (crun's record of the container too). bay0 decides which rooms start and runs crun;
 * the bulk of building stays out of PID 1 and dies alone.
 */
import { existsSync } from "node:fs";
import { z } from "zod";
import { SECCOMP_PROFILE } from "../init/layout.ts";
import { policySchema } from "../policies/schema.ts";
import { parseJsonOrNull, readJsonOrNull } from "../sys/files.ts";
import { cgroupFs } from "../sys/cgroup-fs.ts";
import { rootfsFs } from "../sys/fs-node.ts";
import type { Libc } from "../sys/libc.ts";
import { createLog } from "../sys/log.ts";
import { bindVaultFolder } from "../sys/vault-folders.ts";
import { UMBILICAL_USER } from "../umbilical/channel.ts";
import { VAULT_ROOMS } from "../vault/tools.ts";
import { ERROR_MAX, type BuilderReply } from "./builder-protocol.ts";
import {
  availableControllers,
  availableLimits,
  CgroupError,
  prepareRoomCgroup,
  removeRoomCgroup,
  type CgroupSetupFs,
} from "./cgroup-setup.ts";
import { CRUN_ROOT } from "./crun.ts";
import { buildPlan } from "./build-plan.ts";
import { cgroupLimits, ociConfig } from "./oci.ts";
import { hostUser, planRoom, type RoomPlan } from "./plan.ts";
import { prepareRootfs, teardownRootfs, type RootfsFs } from "./rootfs.ts";
import { containersProfileSchema, type ContainersProfile } from "./seccomp.ts";

export type BuilderDeps = {
  libc: Libc;
  cgroupFs: CgroupSetupFs;
  rootfsFs: RootfsFs;
  /** `crun delete --force` of a container crun made (nothing when it made none): null, or why not. */
  deleteContainer: (containerId: string) => string | null;
  /** The room's vault folder (made on first use, owned by `owner`) bound at `target`: null, or why not. */
  bindVault: (folder: string, owner: { uid: number; gid: number }, target: string) => string | null;
};

const describe = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** Drops crun's record of the room, its root and every write it held, its umbilical's directory, then its emptied cgroup. Null, or why not. */
export function teardownRoom(deps: BuilderDeps, plan: RoomPlan): string | null {
  const deleted = deps.deleteContainer(plan.containerId);
  try {
    deps.rootfsFs.remove(plan.dirs.umbilical);
    teardownRootfs(deps.libc, deps.rootfsFs, buildPlan(plan));
    removeRoomCgroup(deps.cgroupFs, plan);
    return deleted;
  } catch (error) {
    return `${deleted === null ? "" : `${deleted}; `}${describe(error)}`;
  }
}

function deleteContainer(containerId: string): string | null {
  if (!existsSync(`${CRUN_ROOT}/${containerId}`)) return null;
  try {
    const run = Bun.spawnSync(["crun", "--root", CRUN_ROOT, "delete", "--force", containerId], { stdout: "ignore" });
    return run.exitCode === 0 ? null : `crun delete: ${run.stderr.toString().trim()}`;
  } catch (error) {
    return `crun delete: ${describe(error)}`;
  }
}

/**
 * The room's cgroup node with limits, its root (image + tmpfs overlay) and
 * its OCI bundle, from nothing: whatever an earlier instance of the same
 * room left (a builder that died mid-way) goes first. Null, or why not.
 */
export function prepareRoom(deps: BuilderDeps, roomPlan: RoomPlan, profile: ContainersProfile): string | null {
  const plan = buildPlan(roomPlan);
  try {
    teardownRootfs(deps.libc, deps.rootfsFs, plan);
    const controllers = availableControllers(deps.cgroupFs);
    const limits = availableLimits(controllers, cgroupLimits(plan));
    prepareRoomCgroup(deps.cgroupFs, plan, controllers, limits);
    const rootfsError = prepareRootfs(deps.libc, deps.rootfsFs, plan);
    if (rootfsError !== null) return rootfsError;
    if (plan.policy.umbilical.allow.length > 0) {
      // The umbilical's socket directory: its server's alone to write in.
      deps.rootfsFs.mkdir(plan.dirs.umbilical);
      deps.rootfsFs.chown(plan.dirs.umbilical, UMBILICAL_USER.uid, UMBILICAL_USER.gid);
    }
    deps.rootfsFs.writeFile(`${plan.dirs.bundle}/config.json`, JSON.stringify(ociConfig(plan, profile, limits)));
    // bay0 asks for a room with a vault folder only while the vault is open, and unbinds the folder after it.
    const folder = plan.policy.vault?.folder;
    return folder === undefined ? null : deps.bindVault(folder, hostUser(plan.policy), plan.dirs.vault);
  } catch (error) {
    return error instanceof CgroupError ? error.message : `preparing the room: ${describe(error)}`;
  }
}

const requestSchema = z.object({
  id: z.number().int(),
  do: z.enum(["prepare", "teardown"]),
  room: z.string().max(200),
  policy: policySchema,
  parent: z.object({ id: z.string().max(200), depth: z.number().int().min(0).max(8) }).nullable(),
});

/** Answers one request line: bay0's, so a bad one is a bug, answered as such rather than guessed at. */
export function answer(deps: BuilderDeps, profile: ContainersProfile | null, line: string): BuilderReply {
  const value = parseJsonOrNull(line);
  const request = requestSchema.safeParse(value);
  if (!request.success) {
    const id = z.object({ id: z.number().int() }).safeParse(value);
    return { id: id.success ? id.data.id : -1, error: `bad request: ${request.error.message.slice(0, 300)}` };
  }
  const { id, room, policy, parent } = request.data;
  const plan = planRoom(policy, parent);
  if (plan.id !== room) return { id, error: `the plan is of '${plan.id}', not '${room}'` };
  // Cut to what bay0 reads (rooms/builder-protocol.ts): a longer answer would be dropped, and the request wait.
  const cut = (error: string | null): string | null => error?.slice(0, ERROR_MAX) ?? null;
  if (request.data.do === "teardown") return { id, error: cut(teardownRoom(deps, plan)) };
  if (profile === null) return { id, error: `the seccomp profile ${SECCOMP_PROFILE} is missing or invalid` };
  return { id, error: cut(prepareRoom(deps, plan, profile)) };
}

/** The helper's main: requests on stdin, one at a time, answers on stdout; ends when bay0 closes stdin. */
export async function runRoomBuilder(): Promise<void> {
  const say = (line: string): void => void process.stdout.write(`${line}\n`);
  // Loaded here, not above: what the tests import of this file runs under Node, without bun:ffi.
  const { openHelperLibc } = await import("../sys/libc-helper.ts");
  const libc = openHelperLibc();
  const bindVault: BuilderDeps["bindVault"] = (folder, owner, target) =>
    bindVaultFolder(libc, VAULT_ROOMS, folder, owner, target);
  const deps: BuilderDeps = { libc, cgroupFs, rootfsFs, deleteContainer, bindVault };
  const loaded = containersProfileSchema.safeParse(readJsonOrNull(SECCOMP_PROFILE));
  if (!loaded.success)
    createLog([say]).error("rooms.unavailable", { reason: `seccomp profile ${SECCOMP_PROFILE} is missing or invalid` });
  const profile = loaded.success ? loaded.data : null;
  for await (const line of console) say(JSON.stringify(answer(deps, profile, line)));
}
