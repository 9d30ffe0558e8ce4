import { RLIMITS } from "../policies/schema.ts";
import type { BuildPlan } from "./build-plan.ts";
import { ROOM_ID_MAP, UMBILICAL_DIR, VAULT_PATH, type RoomPlan } from "./plan.ts";
import { buildSeccomp, type ContainersProfile, type OciSeccomp } from "./seccomp.ts";

/** The subset of the OCI runtime-spec config that rooms use. */
export type OciConfig = {
  ociVersion: string;
  process: {
    terminal: boolean;
    user: { uid: number; gid: number };
    args: string[];
    env: string[];
    cwd: string;
    capabilities: { bounding: string[]; effective: string[]; permitted: string[] };
    rlimits: { type: string; hard: number; soft: number }[];
    noNewPrivileges: boolean;
  };
  root: { path: string; readonly: boolean };
  hostname: string;
  mounts: { destination: string; type: string; source: string; options: string[] }[];
  linux: {
    uidMappings: { containerID: number; hostID: number; size: number }[];
    gidMappings: { containerID: number; hostID: number; size: number }[];
    namespaces: { type: string }[];
    cgroupsPath: string;
    resources: { unified: Record<string, string>; devices: DeviceRule[] };
    maskedPaths: string[];
    readonlyPaths: string[];
    seccomp: OciSeccomp;
  };
};

type DeviceRule = { allow: boolean; type?: "c"; major?: number; minor?: number; access: string };

/** Deny every device, then allow the harmless ones crun creates in a room's /dev. */
export const DEVICES: readonly Readonly<DeviceRule>[] = Object.freeze(
  [
    { allow: false, access: "rwm" },
    ...[
      [1, 3], // null
      [1, 5], // zero
      [1, 7], // full
      [1, 8], // random
      [1, 9], // urandom
      [5, 0], // tty
      [5, 2], // ptmx
    ].map(([major, minor]): DeviceRule => ({
      allow: true,
      type: "c",
      major: major ?? 0,
      minor: minor ?? 0,
      access: "rwm",
    })),
    { allow: true, type: "c" as const, major: 136, access: "rwm" }, // pts
  ].map((rule): Readonly<DeviceRule> => Object.freeze(rule)),
);

/** Kernel paths a room must not read (masked) or write (read-only), as in runc/crun defaults and more. */
export const MASKED_PATHS: readonly string[] = Object.freeze([
  "/proc/acpi",
  "/proc/asound",
  "/proc/interrupts",
  "/proc/kcore",
  "/proc/keys",
  "/proc/latency_stats",
  "/proc/timer_list",
  "/proc/timer_stats",
  "/proc/sched_debug",
  "/proc/scsi",
  "/proc/kallsyms",
  "/proc/kmsg",
  "/sys/firmware",
  "/sys/devices/virtual/powercap",
  "/sys/kernel/security",
  "/sys/fs/selinux",
]);
export const READONLY_PATHS: readonly string[] = Object.freeze([
  "/proc/bus",
  "/proc/fs",
  "/proc/irq",
  "/proc/sys",
  "/proc/sysrq-trigger",
]);

const CPU_PERIOD_US = 100_000;

/** cgroup v2 limit files and their values for a room (written by crun on the leaf, by bay0 on the node). */
export function cgroupLimits(plan: RoomPlan): Record<string, string> {
  const { limits } = plan.policy;
  return {
    "memory.max": String(limits.memory_max),
    "memory.swap.max": String(limits.memory_swap_max),
    "pids.max": String(limits.pids_max),
    "cpu.weight": String(limits.cpu_weight),
    "cpu.max":
      limits.cpu_max === undefined ? "max 100000" : `${Math.round(limits.cpu_max * CPU_PERIOD_US)} ${CPU_PERIOD_US}`,
    "io.weight": `default ${limits.io_weight}`,
  };
}

/**
 * Policy + plan -> the config.json crun runs. `limits` are the cgroup limits
 * the kernel can apply (cgroupLimits reduced to its controllers). Pure: the
 * same inputs give the same document, and it is exactly what crun receives.
 */
export function ociConfig(plan: BuildPlan, profile: ContainersProfile, limits: Record<string, string>): OciConfig {
  const { policy } = plan;
  const caps = [...policy.capabilities];
  const seccomp = buildSeccomp(profile, caps, policy.seccomp.deny, policy.network);
  const home = policy.user.uid === 0 ? "/root" : "/tmp";
  const env = {
    PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    HOME: home,
    TERM: policy.terminal ? "xterm-256color" : "dumb",
    ...policy.env,
  };
  const idMap = [{ containerID: 0, hostID: ROOM_ID_MAP.hostId, size: ROOM_ID_MAP.size }];
  return {
    ociVersion: "1.0.2",
    process: {
      terminal: policy.terminal,
      user: { uid: policy.user.uid, gid: policy.user.gid },
      args: [...policy.command],
      env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
      cwd: "/",
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      rlimits: RLIMITS.flatMap((name) => {
        const value = policy.rlimits[name];
        return value === undefined ? [] : [{ type: `RLIMIT_${name.toUpperCase()}`, hard: value, soft: value }];
      }),
      noNewPrivileges: true,
    },
    root: { path: plan.dirs.rootfs, readonly: false },
    hostname: policy.hostname ?? policy.name,
    mounts: [
      { destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"] },
      {
        destination: "/dev",
        type: "tmpfs",
        source: "tmpfs",
        options: ["nosuid", "strictatime", "mode=755", `size=${plan.storage.devBytes}`],
      },
      {
        destination: "/dev/pts",
        type: "devpts",
        source: "devpts",
        options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"],
      },
      {
        destination: "/dev/shm",
        type: "tmpfs",
        source: "shm",
        options: ["nosuid", "noexec", "nodev", "mode=1777", `size=${plan.storage.shmBytes}`],
      },
      { destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"] },
      { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"] },
      {
        destination: "/sys/fs/cgroup",
        type: "cgroup",
        source: "cgroup",
        options: ["nosuid", "noexec", "nodev", "relatime", "ro"],
      },
      ...(policy.umbilical.allow.length > 0
        ? [
            {
              destination: UMBILICAL_DIR,
              type: "bind",
              source: plan.dirs.umbilical,
              options: ["bind", "nosuid", "nodev", "noexec"],
            },
          ]
        : []),
      // bay0 starts a room with a vault folder only while the vault is open, its folder bound at plan.dirs.vault.
      ...(policy.vault !== undefined
        ? [
            {
              destination: VAULT_PATH,
              type: "bind",
              source: plan.dirs.vault,
              options: ["bind", "nosuid", "nodev", "noexec"],
            },
          ]
        : []),
    ],
    linux: {
      uidMappings: idMap,
      gidMappings: idMap,
      namespaces: policy.namespaces.map((type) => ({ type })),
      cgroupsPath: plan.cgroup.leaf,
      resources: { unified: { ...limits }, devices: DEVICES.map((rule) => ({ ...rule })) },
      maskedPaths: [...MASKED_PATHS],
      readonlyPaths: [...READONLY_PATHS],
      seccomp,
    },
  };
}
