/**
 * Wires bay0's rooms at boot: loads the image's policies, mounts the base
 * images, starts the autostart rooms. Policy and image problems are logged
 * and skip only what they concern.
 */
import { loadPolicies } from "../policies/load.ts";
import type { Policy } from "../policies/schema.ts";
import { discoverImageDisks, imageManifestSchema, mountImage, openVerified } from "../rooms/images.ts";
import { containersProfileSchema } from "../rooms/seccomp.ts";
import { RoomSupervisor } from "../rooms/supervisor.ts";
import { readJsonOrNull, readTextOrNull } from "../sys/files.ts";
import { cgroupFs, imageFs, rootfsFs } from "../sys/fs-node.ts";
import type { Libc } from "../sys/libc.ts";
import type { Log } from "../sys/log.ts";
import type { Spawner } from "../sys/spawn.ts";
import type { ToolRunner } from "../sys/tool.ts";

export const POLICY_DIR = "/etc/anchor/policies";
export const AUTOSTART_FILE = "/etc/anchor/autostart";
export const SECCOMP_PROFILE = "/etc/anchor/seccomp.json";
export const IMAGE_MANIFEST = "/etc/anchor/images.json";

export type Rooms = { supervisor: RoomSupervisor; policies: Map<string, Policy> };

export function startRooms(deps: { libc: Libc; log: Log; spawner: Spawner; tool: ToolRunner }, autostart: string[] | null): Rooms | null {
  const { libc, log } = deps;
  const files = imageFs.list(POLICY_DIR).filter((f) => f.endsWith(".toml")).map((f) => ({ path: `${POLICY_DIR}/${f}`, text: readTextOrNull(`${POLICY_DIR}/${f}`) ?? "" }));
  const { policies, rejected } = loadPolicies(files);
  for (const error of rejected) log.error("policy.rejected", error);
  log.info("policy.loaded", { policies: [...policies.keys()] });

  const profile = containersProfileSchema.safeParse(readJsonOrNull(SECCOMP_PROFILE));
  if (!profile.success) {
    log.error("rooms.unavailable", { reason: `seccomp profile ${SECCOMP_PROFILE} is missing or invalid` });
    return null;
  }

  const manifest = imageManifestSchema.safeParse(readJsonOrNull(IMAGE_MANIFEST) ?? {});
  if (!manifest.success) log.error("image.failed", { reason: `image manifest ${IMAGE_MANIFEST} is invalid: ${manifest.error.message}` });
  const pinned = manifest.success ? manifest.data : {};
  const images = new Set<string>();
  const mountImages = async (): Promise<void> => {
    for (const [name, disk] of discoverImageDisks(imageFs)) {
      const entry = pinned[name];
      if (entry === undefined) {
        log.error("image.failed", { image: name, device: disk, error: "no root hash pinned for it in the image manifest" });
        continue;
      }
      const verified = await openVerified(deps.tool, name, disk, entry);
      if (!verified.ok) {
        log.error("image.verity_failed", { image: name, device: disk, error: verified.error });
        continue;
      }
      const error = mountImage(libc, imageFs, name, verified.device);
      if (error === null) {
        images.add(name);
        log.info("image.mounted", { image: name, device: verified.device, root_hash: entry.root_hash });
      } else log.error("image.failed", { image: name, device: verified.device, error });
    }
  };

  const supervisor = new RoomSupervisor({
    ...deps,
    cgroupFs,
    rootfsFs,
    seccompProfile: profile.data,
    images: () => images,
    now: () => performance.now(),
    sleep: (ms) => Bun.sleep(ms),
  });

  const names = autostart ?? (readTextOrNull(AUTOSTART_FILE) ?? "").split(/\s+/).filter((n) => n !== "");
  void (async () => {
    await mountImages();
    for (const name of names) {
      const policy = policies.get(name);
      if (!policy) {
        log.error("room.failed", { room: name, reason: `no valid policy named '${name}'` });
        continue;
      }
      // start() never throws by contract; this guard keeps one broken room from stopping the rest if it ever did.
      await supervisor.start(policy).catch((error: unknown) => log.error("room.failed", { room: name, reason: String(error) }));
    }
  })().catch((error: unknown) => log.error("bay0.error", { where: "rooms.autostart", error: String(error) }));
  return { supervisor, policies };
}
