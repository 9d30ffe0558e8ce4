import { DEVICES, MASKED_PATHS, READONLY_PATHS, type OciConfig } from "../rooms/oci.ts";
import { ROOM_ID_MAP } from "../rooms/plan.ts";
import { buildSeccomp, type ContainersProfile } from "../rooms/seccomp.ts";
import { NAMESPACES } from "../policies/schema.ts";
import { BAY0, BAY0_DIR } from "../init/layout.ts";

/** Read-only: bay0 and the libraries it links; nothing of any room, no secret of bay0's. */
const PROGRAM_DIRS = [BAY0_DIR, "/lib", "/lib64"];
/** Made by bay0 in the courier's root before crun runs: the root belongs to bay0, so the courier cannot add to it. */
export const MOUNT_POINTS: readonly string[] = ["/proc", "/dev", ...PROGRAM_DIRS];
const COURIER_LIMITS = { "pids.max": "32" };

/** The receiving room as a courier needs it: its user inside its namespace, and its cgroup node. */
export type Receiver = { user: { uid: number; gid: number }; cgroupNode: string };

/** The courier's cgroup (below the cgroup root): inside the receiving room's node. */
export const courierCgroup = (receiver: Receiver, id: string): string => `${receiver.cgroupNode}/.courier-${id}`;

/**
 * The OCI config crun runs one courier with: every namespace, the receiving
 * room's user (so what it writes belongs to that room), no capabilities,
 * the rooms' seccomp filter, an empty read-only root holding only its own
 * program, and a cgroup inside the receiving room's: what it writes into a
 * room's RAM-backed storage is charged to that room's memory limit, and stays
 * charged there when the courier is gone. The source file and the destination
 * folder are not in its tree: they arrive as open file descriptors. Pure.
 */
export function courierConfig(
  id: string,
  receiver: Receiver,
  root: string,
  args: string[],
  profile: ContainersProfile,
): OciConfig {
  const idMap = [{ containerID: 0, hostID: ROOM_ID_MAP.hostId, size: ROOM_ID_MAP.size }];
  const readOnly = ["bind", "ro", "nosuid", "nodev"];
  return {
    ociVersion: "1.0.2",
    process: {
      terminal: false,
      user: { ...receiver.user },
      args: [BAY0, "courier", ...args],
      env: ["PATH=/usr/lib/bay0"],
      cwd: "/",
      capabilities: { bounding: [], effective: [], permitted: [] },
      rlimits: [],
      noNewPrivileges: true,
    },
    root: { path: root, readonly: true },
    hostname: "courier",
    mounts: [
      { destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"] },
      { destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "mode=755", "size=64k"] },
      ...PROGRAM_DIRS.map((dir) => ({ destination: dir, type: "bind", source: dir, options: readOnly })),
    ],
    linux: {
      uidMappings: idMap,
      gidMappings: idMap,
      namespaces: NAMESPACES.map((type) => ({ type })),
      cgroupsPath: courierCgroup(receiver, id),
      resources: { unified: { ...COURIER_LIMITS }, devices: DEVICES.map((rule) => ({ ...rule })) },
      maskedPaths: [...MASKED_PATHS],
      readonlyPaths: [...READONLY_PATHS],
      seccomp: buildSeccomp(profile, [], [], "none"),
    },
  };
}
