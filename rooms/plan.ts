import type { Policy } from "../policies/schema.ts";

/**
 * Every room's user namespace maps its uids 0-65535 onto this unprivileged
 * host range; base images are built owned by its first uid, so a room's
 * root owns (only) its own copy-on-write view of the image.
 */
export const ROOM_ID_MAP = { hostId: 100_000, size: 65_536 } as const;

export const ROOMS_RUN_DIR = "/run/rooms";
export const ROOMS_CGROUP = "/rooms";

/** Everything needed to start one room, derived from its policy alone. */
export type RoomPlan = {
  /** Unique, path-shaped: "web", or "work/kid" for a child of work. */
  id: string;
  policy: Policy;
  depth: number;
  dirs: {
    /** Everything of this room's lives below here (one flat directory per room, nested or not). */
    base: string;
    /** tmpfs of policy.storage.tmpfs_size holding upper/ and work/: every write lands here. */
    scratch: string;
    upper: string;
    work: string;
    /** overlay of the image (lower) and scratch/upper: the room's root. */
    rootfs: string;
    bundle: string;
  };
  /** The image's read-only mount point. */
  imageMount: string;
  /** cgroup v2 paths below /sys/fs/cgroup: limits on `node`, processes only in the leaf. */
  cgroup: { node: string; leaf: string };
  /** crun's container id: one flat name per room. */
  containerId: string;
};

export function imageMountPoint(image: string): string {
  return `${ROOMS_RUN_DIR}/.images/${image}`;
}

/** Plans a room; `parent` is the plan of the room that asked for it (nesting). */
export function planRoom(policy: Policy, parent: RoomPlan | null = null): RoomPlan {
  const id = parent ? `${parent.id}/${policy.name}` : policy.name;
  const flat = id.replaceAll("/", "--");
  const base = `${ROOMS_RUN_DIR}/${flat}`;
  const node = `${ROOMS_CGROUP}/${id}`;
  return {
    id,
    policy,
    depth: parent ? parent.depth + 1 : 0,
    dirs: {
      base,
      scratch: `${base}/scratch`,
      upper: `${base}/scratch/upper`,
      work: `${base}/scratch/work`,
      rootfs: `${base}/rootfs`,
      bundle: `${base}/bundle`,
    },
    imageMount: imageMountPoint(policy.image),
    // The node holds the limits (and, for nesting, child nodes); the room's
    // own processes live in the leaf, honouring "no internal processes".
    cgroup: { node, leaf: `${node}/room` },
    containerId: `anchor-${flat}`,
  };
}
