/**
 * Wires bay0's rooms at boot: loads the image's policies, mounts the base
 * images, starts the autostart rooms. Policy and image problems are logged
 * and skip only what they concern.
 */
import { constants } from "node:fs";
import { loadPolicies } from "../policies/load.ts";
import type { Policy } from "../policies/schema.ts";
import { chooseBootDisk, disksWithGpt, parseLoaderPartUuid, PARTITION } from "../rooms/boot-disk.ts";
import { imageManifestSchema, mountImage, openVerified } from "../rooms/images.ts";
import { readDisks, readLoaderPartUuidVariable, readWhole } from "../sys/block-devices.ts";
import { openCharDevice } from "../sys/devices.ts";
import { deviceMapper } from "../sys/device-mapper.ts";
import type { PromptAnswer, PromptRequest } from "./console/prompt.ts";
import { createCourier } from "./courier.ts";
import { createUmbilical } from "./umbilical.ts";
import type { Vault, VaultPartition } from "./vault.ts";
import { VAULT_ROOMS, VAULT_STAGING } from "../vault/tools.ts";
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

const DM_CONTROL = "/dev/mapper/control";

/**
 * Slot A's images partition and the vault's partition on the disk bay0
 * booted from; other disks' Anchor partitions are logged and left alone.
 */
async function findBootPartitions(log: Log): Promise<{ slot: { device: string; majorMinor: string } | null; vault: VaultPartition | null }> {
  const raw = await readDisks((disk, error) => log.warn("image.ignored", { disk, reason: `unreadable: ${error}` }));
  const efivar = await readLoaderPartUuidVariable();
  const choice = chooseBootDisk(disksWithGpt(raw), efivar === null ? null : parseLoaderPartUuid(efivar));
  for (const disk of choice.ignored) {
    log.warn("image.ignored", { disk: disk.name, partitions: disk.partitions.map((p) => p.label), reason: choice.ok ? "not the boot disk" : choice.reason });
  }
  if (!choice.ok) {
    log.error("image.failed", { reason: `no boot disk: ${choice.reason}` });
    return { slot: null, vault: null };
  }
  const slot = choice.disk.partitions.find((p) => p.label === PARTITION.imagesA.label);
  const vault = choice.disk.partitions.find((p) => p.label === PARTITION.vault.label);
  log.info("image.boot_disk", { disk: choice.disk.name, how: choice.how, slot: slot?.device ?? null });
  if (slot === undefined) log.error("image.failed", { reason: `the boot disk ${choice.disk.name} has no ${PARTITION.imagesA.label} partition` });
  return { slot: slot ?? null, vault: vault === undefined ? null : { device: vault.device, disk: `/dev/${choice.disk.name}`, number: vault.number } };
}

/** `vault`: the boot disk's vault partition, once the images (the vault's tools among them) are mounted. */
export type Rooms = { supervisor: RoomSupervisor; policies: Map<string, Policy>; vault: Promise<VaultPartition | null> };

type RoomsDeps = {
  libc: Libc;
  log: Log;
  spawner: Spawner;
  tool: ToolRunner;
  ask: () => ((request: PromptRequest) => Promise<PromptAnswer>) | null;
  /** The vault, once it started (its rooms' folders). */
  vault: () => Vault | null;
};

export function startRooms({ ask, vault, ...deps }: RoomsDeps, autostart: string[] | null): Rooms | null {
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
  const mountImages = async (): Promise<VaultPartition | null> => {
    const { slot, vault } = await findBootPartitions(log);
    if (slot === null) return vault;
    let control: number;
    try {
      control = openCharDevice(DM_CONTROL, constants.O_RDWR);
    } catch (error) {
      log.error("image.failed", { reason: String(error) });
      return vault;
    }
    const dm = deviceMapper(libc, control);
    try {
      for (const [name, entry] of Object.entries(pinned)) {
        const verified = await openVerified(dm, readWhole, name, slot.majorMinor, entry);
        if (!verified.ok) {
          log.error("image.verity_failed", { image: name, partition: slot.device, error: verified.error });
          continue;
        }
        const error = mountImage(libc, imageFs, name, verified.device);
        if (error === null) {
          images.add(name);
          log.info("image.mounted", { image: name, device: verified.device, root_hash: entry.root_hash });
        } else log.error("image.failed", { image: name, device: verified.device, error });
      }
    } finally {
      // The mapped devices stay; the control handle is needed only to make them.
      libc.close(control);
    }
    return vault;
  };

  const supervisor: RoomSupervisor = new RoomSupervisor({
    ...deps,
    umbilical: createUmbilical(libc, log, () => supervisor, createCourier({
      ...deps,
      profile: profile.data,
      ask,
      running: () => supervisor.list().filter((room) => room.started).map((room) => room.plan),
      vault: { roomsDir: VAULT_ROOMS, stagingDir: VAULT_STAGING, isOpen: () => vault()?.state() === "open", writing: (what) => vault()?.writing(what) ?? null },
    })),
    vault: {
      open: (plan) => {
        const started = vault();
        return started === null ? "this machine has no vault (no TPM, or no vault partition)" : started.rooms.open(plan);
      },
      close: (plan) => vault()?.rooms.close(plan),
    },
    cgroupFs,
    rootfsFs,
    seccompProfile: profile.data,
    images: () => images,
    now: () => performance.now(),
    sleep: (ms) => Bun.sleep(ms),
  });

  const names = autostart ?? (readTextOrNull(AUTOSTART_FILE) ?? "").split(/\s+/).filter((n) => n !== "");
  const mounted = mountImages().catch((error: unknown) => {
    log.error("bay0.error", { where: "images", error: String(error) });
    return null;
  });
  void (async () => {
    await mounted;
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
  return { supervisor, policies, vault: mounted };
}
