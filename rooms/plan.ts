import type { Policy } from "../policies/schema.ts";
import { UMBILICAL_RUN_DIR } from "../umbilical/channel.ts";

/**
 * Every room's user namespace maps its uids 0-65535 onto this unprivileged
 * host range; base images are built owned by its first uid, so a room's
 * root owns (only) its own copy-on-write view of the image.
 */
export const ROOM_ID_MAP = { hostId: 100_000, size: 65_536 } as const;

export const ROOMS_RUN_DIR = "/run/rooms";
export const ROOMS_CGROUP = "/rooms";
/** The directory of a room's umbilical socket: the room finds it at /run/anchor/umbilical (a public interface: anchorctl connects there). */
export const UMBILICAL_DIR = "/run/anchor";
/** Where a room with a vault folder sees it (a public interface). */
export const VAULT_PATH = "/vault";

/** The host uid and gid that a room's own user (policy.user) is, through its user namespace. */
export const hostUser = (policy: Policy): { uid: number; gid: number } => ({
  uid: ROOM_ID_MAP.hostId + policy.user.uid,
  gid: ROOM_ID_MAP.hostId + policy.user.gid,
});

/** Everything bay0 needs to start one room, derived from its policy alone (the builder's more: rooms/build-plan.ts). */
export type RoomPlan = {
  /** Unique, path-shaped: "web", or "work/kid" for a child of work. */
  id: string;
  policy: Policy;
  depth: number;
  dirs: {
    /** Everything of this room's lives below here (one flat directory per room, nested or not). */
    base: string;
    /** overlay of the image (lower) and scratch/upper: the room's root. */
    rootfs: string;
    bundle: string;
    /** crun writes the room's first pid here once its namespaces and cgroup exist. */
    pidFile: string;
    /** Where crun hands over the room's terminal (policy.terminal): a Unix socket bay0 listens on. */
    consoleSocket: string;
    /** The directory of the room's umbilical socket (init/umbilical.ts), bound at UMBILICAL_DIR when its policy allows any request. */
    umbilical: string;
    /**
     * bay0's bind of the room's vault folder, which crun binds on at VAULT_PATH: outside `base`, so
     * that removing the room's directory can never reach into the vault.
     */
    vault: string;
  };
  /** cgroup v2 paths below /sys/fs/cgroup: limits on `node`, processes only in the leaf. */
  cgroup: { node: string; leaf: string };
  /** crun's container id: one flat name per room. */
  containerId: string;
};

/** Plans a room; `parent` is the plan of the room that asked for it (nesting). */
export function planRoom(policy: Policy, parent: Pick<RoomPlan, "id" | "depth"> | null = null): RoomPlan {
  const id = parent ? `${parent.id}/${policy.name}` : policy.name;
  // Injective because names may not contain "--" (policies/schema.ts).
  const flat = id.replaceAll("/", "--");
  const base = `${ROOMS_RUN_DIR}/${flat}`;
  const node = `${ROOMS_CGROUP}/${id}`;
  return {
    id,
    policy,
    depth: parent ? parent.depth + 1 : 0,
    dirs: {
      base,
      rootfs: `${base}/rootfs`,
      bundle: `${base}/bundle`,
      pidFile: `${base}/crun.pid`,
      consoleSocket: `${base}/console.sock`,
      umbilical: `${UMBILICAL_RUN_DIR}/${flat}`,
      vault: `${ROOMS_RUN_DIR}/.vault/${flat}`,
    },
    // The node holds the limits (and, for nesting, child nodes); the room's
    // own processes live in the leaf, honouring "no internal processes".
    // "room" is a reserved name, so no child node can be this leaf.
    cgroup: { node, leaf: `${node}/room` },
    containerId: `anchor-${flat}`,
  };
}
