import { z } from "zod";

/**
 * Rooms' seccomp filters: the allow-list of containers-common's default
 * profile (Debian package golang-github-containers-common), which podman
 * and docker ship, resolved for the room's capabilities, minus Anchor's own
 * deny-list and the policy's `seccomp.deny`.
 */

const ruleSchema = z.object({
  names: z.array(z.string()),
  action: z.string(),
  args: z.array(z.object({ index: z.number(), value: z.number(), valueTwo: z.number().optional(), op: z.string() })).nullish(),
  includes: z.object({ caps: z.array(z.string()).optional(), arches: z.array(z.string()).optional() }).partial().nullish(),
  excludes: z.object({ caps: z.array(z.string()).optional(), arches: z.array(z.string()).optional() }).partial().nullish(),
  errnoRet: z.number().optional(),
});

export const containersProfileSchema = z.object({
  defaultAction: z.string(),
  defaultErrnoRet: z.number().optional(),
  syscalls: z.array(ruleSchema),
});
export type ContainersProfile = z.infer<typeof containersProfileSchema>;

export type OciSeccompRule = {
  names: string[];
  action: string;
  errnoRet?: number;
  args?: { index: number; value: number; valueTwo?: number; op: string }[];
};
export type OciSeccomp = { defaultAction: string; defaultErrnoRet?: number; architectures: string[]; syscalls: OciSeccompRule[] };

/**
 * Denied in every room, whatever the base profile allows: mounting and
 * namespace games, kernel keyrings, eBPF and perf, modules, kexec, reboot,
 * swap, the clock, the kernel log, ptrace and cross-process memory access,
 * and file-handle tricks that sidestep path checks.
 */
export const ANCHOR_DENY = [
  "mount", "umount", "umount2", "pivot_root", "move_mount", "open_tree", "fsopen", "fsmount", "fsconfig", "fspick", "mount_setattr",
  "unshare", "setns",
  "keyctl", "add_key", "request_key",
  "bpf", "perf_event_open",
  "init_module", "finit_module", "delete_module",
  "kexec_load", "kexec_file_load", "reboot",
  "swapon", "swapoff",
  "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "stime",
  "syslog", "acct", "quotactl", "lookup_dcookie",
  "ptrace", "process_vm_readv", "process_vm_writev", "kcmp",
  "open_by_handle_at", "name_to_handle_at",
  "userfaultfd", "iopl", "ioperm",
] as const;

const EPERM = 1;
const ARCHITECTURES = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"];

const applies = (rule: z.infer<typeof ruleSchema>, caps: readonly string[]): boolean => {
  const needs = rule.includes?.caps ?? [];
  const unless = rule.excludes?.caps ?? [];
  const arches = rule.includes?.arches;
  return needs.every((c) => caps.includes(c)) && !unless.some((c) => caps.includes(c)) && (arches === undefined || arches.includes("amd64"));
};

const AF_UNIX = 1;
const EAFNOSUPPORT = 97;

/**
 * A room without network may open Unix sockets only (its umbilical is one).
 * libseccomp does not let a deny rule override an overlapping allow rule, so
 * every base rule for socket(2) is replaced by two disjoint ones.
 */
const UNIX_SOCKETS_ONLY: OciSeccompRule[] = [
  { names: ["socket"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: AF_UNIX, op: "SCMP_CMP_EQ" }] },
  { names: ["socket"], action: "SCMP_ACT_ERRNO", errnoRet: EAFNOSUPPORT, args: [{ index: 0, value: AF_UNIX, op: "SCMP_CMP_NE" }] },
];

/**
 * The OCI `linux.seccomp` section for a room with `caps`, denying `deny` on
 * top of the base rules; `unixSocketsOnly` for rooms without network.
 */
export function buildSeccomp(profile: ContainersProfile, caps: readonly string[], deny: readonly string[], unixSocketsOnly: boolean): OciSeccomp {
  const denied = new Set<string>([...ANCHOR_DENY, ...deny]);
  const syscalls: OciSeccompRule[] = [];
  for (const rule of profile.syscalls) {
    if (!applies(rule, caps)) continue;
    const names = (rule.action === "SCMP_ACT_ALLOW" ? rule.names.filter((n) => !denied.has(n)) : rule.names).filter(
      (n) => !(unixSocketsOnly && n === "socket"),
    );
    if (names.length === 0) continue;
    syscalls.push({
      names,
      action: rule.action,
      ...(rule.errnoRet !== undefined ? { errnoRet: rule.errnoRet } : {}),
      ...(rule.args && rule.args.length > 0 ? { args: rule.args } : {}),
    });
  }
  if (unixSocketsOnly) syscalls.push(...UNIX_SOCKETS_ONLY);
  syscalls.push({ names: [...denied].sort(), action: "SCMP_ACT_ERRNO", errnoRet: EPERM });
  return {
    defaultAction: profile.defaultAction,
    ...(profile.defaultErrnoRet !== undefined ? { defaultErrnoRet: profile.defaultErrnoRet } : {}),
    architectures: ARCHITECTURES,
    syscalls,
  };
}
