/**
 * What only the room builder needs of a room's plan: where the room's writes
 * go and how much each place may hold, and the image its root overlays.
 */
import { ROOMS_RUN_DIR, type RoomPlan } from "./plan.ts";

export type BuildPlan = RoomPlan & {
  dirs: RoomPlan["dirs"] & {
    /** tmpfs of storage.scratchBytes holding upper/ and work/: every write to the root lands here. */
    scratch: string;
    upper: string;
    work: string;
  };
  /**
   * Where the room's writes may go, in bytes, together exactly the policy's
   * storage.tmpfs_size: /dev (device nodes and symlinks only), /dev/shm, and
   * the overlay's upper layer (everything else).
   */
  storage: { devBytes: number; shmBytes: number; scratchBytes: number };
  /** The image's read-only mount point. */
  imageMount: string;
};

const PAGE = 4096;
const DEV_BYTES = 64 * PAGE;
const SHM_MAX_BYTES = 64 * 1024 * 1024;

/** Splits a room's storage promise between /dev, /dev/shm and the writable layer. */
export function splitStorage(totalBytes: number): BuildPlan["storage"] {
  const shmBytes = Math.min(SHM_MAX_BYTES, Math.floor(totalBytes / 4 / PAGE) * PAGE);
  return { devBytes: DEV_BYTES, shmBytes, scratchBytes: totalBytes - DEV_BYTES - shmBytes };
}

export function imageMountPoint(image: string): string {
  return `${ROOMS_RUN_DIR}/.images/${image}`;
}

export function buildPlan(plan: RoomPlan): BuildPlan {
  const { base } = plan.dirs;
  return {
    ...plan,
    dirs: { ...plan.dirs, scratch: `${base}/scratch`, upper: `${base}/scratch/upper`, work: `${base}/scratch/work` },
    storage: splitStorage(plan.policy.storage.tmpfs_size),
    imageMount: imageMountPoint(plan.policy.image),
  };
}
