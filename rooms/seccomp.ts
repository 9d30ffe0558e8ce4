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
  args: z
    .array(z.object({ index: z.number(), value: z.number(), valueTwo: z.number().optional(), op: z.string() }))
    .nullish(),
  includes: z
    .object({ caps: z.array(z.string()).optional(), arches: z.array(z.string()).optional() })
    .partial()
    .nullish(),
  excludes: z
    .object({ caps: z.array(z.string()).optional(), arches: z.array(z.string()).optional() })
    .partial()
    .nullish(),
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
export type OciSeccomp = {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures: string[];
  syscalls: OciSeccompRule[];
};

/**
 * Denied in every room, whatever the base profile allows: mounting and
 * namespace games, kernel keyrings, eBPF and perf, modules, kexec, reboot,
 * swap, the clock, the kernel log, ptrace and cross-process memory access,
 * and file-handle tricks that sidestep path checks.
 */
export const ANCHOR_DENY = [
  "mount",
  "umount",
  "umount2",
  "pivot_root",
  "move_mount",
  "open_tree",
  "fsopen",
  "fsmount",
  "fsconfig",
  "fspick",
  "mount_setattr",
  "unshare",
  "setns",
  "keyctl",
  "add_key",
  "request_key",
  "bpf",
  "perf_event_open",
  "init_module",
  "finit_module",
  "delete_module",
  "kexec_load",
  "kexec_file_load",
  "reboot",
  "swapon",
  "swapoff",
  "settimeofday",
  "clock_settime",
  "clock_adjtime",
  "adjtimex",
  "stime",
  "syslog",
  "acct",
  "quotactl",
  "lookup_dcookie",
  "ptrace",
  "process_vm_readv",
  "process_vm_writev",
  "kcmp",
  "open_by_handle_at",
  "name_to_handle_at",
  "userfaultfd",
  "iopl",
  "ioperm",
] as const;

const EPERM = 1;
const ENOSYS = 38;
const EAFNOSUPPORT = 97;

/**
 * Only the native system-call table: a 32-bit (or x32) program would bypass
 * every argument check written for x86_64 numbers (socketcall multiplexes
 * socket(2), for one), so libseccomp kills any other architecture outright.
 */
const ARCHITECTURES = ["SCMP_ARCH_X86_64"];

/** CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET: the flags clone(2) makes namespaces with. */
const CLONE_NEW_FLAGS: readonly number[] = Object.freeze([
  0x2_0000, 0x200_0000, 0x400_0000, 0x800_0000, 0x1000_0000, 0x2000_0000, 0x4000_0000,
]);
export const CLONE_NAMESPACE_FLAGS = CLONE_NEW_FLAGS.reduce((all, flag) => all | flag, 0);

/** Socket families a room may open, by its policy's network mode. */
export const SOCKET_FAMILIES: Readonly<Record<"none" | "loopback", readonly number[]>> = Object.freeze({
  none: Object.freeze([1]), // AF_UNIX: the umbilical is one
  loopback: Object.freeze([1, 2, 10]), // AF_UNIX, AF_INET, AF_INET6 on the room's own lo
});

/** Base-profile rules for these calls are dropped: Anchor writes its own, argument-checked ones. */
const REWRITTEN = new Set(["clone", "clone3", "socket"]);

const applies = (rule: z.infer<typeof ruleSchema>, caps: readonly string[]): boolean => {
  const needs = rule.includes?.caps ?? [];
  const unless = rule.excludes?.caps ?? [];
  const arches = rule.includes?.arches;
  return (
    needs.every((c) => caps.includes(c)) &&
    !unless.some((c) => caps.includes(c)) &&
    (arches === undefined || arches.includes("amd64"))
  );
};

const socketArg = (value: number, op: "SCMP_CMP_EQ" | "SCMP_CMP_GT") => [{ index: 0, value, op }];

/**
 * socket(2) allowed for `families` only; every other family gets
 * EAFNOSUPPORT. libseccomp does not let a deny rule override an overlapping
 * allow rule, and takes one comparison per argument, so the refusals are
 * spelled out as disjoint rules: each value in a gap, then "above the last".
 */
export function socketRules(families: readonly number[]): OciSeccompRule[] {
  const allowed = [...families].sort((a, b) => a - b);
  const rules: OciSeccompRule[] = allowed.map((f) => ({
    names: ["socket"],
    action: "SCMP_ACT_ALLOW",
    args: socketArg(f, "SCMP_CMP_EQ"),
  }));
  const refuse = (args: OciSeccompRule["args"]): OciSeccompRule => ({
    names: ["socket"],
    action: "SCMP_ACT_ERRNO",
    errnoRet: EAFNOSUPPORT,
    args,
  });
  const last = allowed.at(-1) ?? -1;
  for (let f = 0; f < last; f++) if (!allowed.includes(f)) rules.push(refuse(socketArg(f, "SCMP_CMP_EQ")));
  rules.push(refuse(socketArg(last, "SCMP_CMP_GT")));
  return rules;
}

/**
 * Process creation without new namespaces (as moby's default profile does):
 * clone(2) only when no CLONE_NEW* flag is set, and clone3(2), whose flags
 * sit in memory that seccomp cannot read, answered ENOSYS so that libc falls
 * back to clone(2).
 */
const PROCESS_RULES: OciSeccompRule[] = [
  {
    names: ["clone"],
    action: "SCMP_ACT_ALLOW",
    args: [{ index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" }],
  },
  // EPERM (not the profile's default ENOSYS) so a program learns it is refused, not that clone is missing.
  ...CLONE_NEW_FLAGS.map((flag): OciSeccompRule => ({
    names: ["clone"],
    action: "SCMP_ACT_ERRNO",
    errnoRet: EPERM,
    args: [{ index: 0, value: flag, valueTwo: flag, op: "SCMP_CMP_MASKED_EQ" }],
  })),
  { names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: ENOSYS },
];

/**
 * The OCI `linux.seccomp` section for a room with `caps` and `network`,
 * denying `deny` on top of the base rules.
 */
export function buildSeccomp(
  profile: ContainersProfile,
  caps: readonly string[],
  deny: readonly string[],
  network: "none" | "loopback",
): OciSeccomp {
  const denied = new Set<string>([...ANCHOR_DENY, ...deny]);
  const syscalls: OciSeccompRule[] = [];
  for (const rule of profile.syscalls) {
    if (!applies(rule, caps)) continue;
    const names = rule.names.filter((n) => !REWRITTEN.has(n) && !(rule.action === "SCMP_ACT_ALLOW" && denied.has(n)));
    if (names.length === 0) continue;
    syscalls.push({
      names,
      action: rule.action,
      ...(rule.errnoRet !== undefined ? { errnoRet: rule.errnoRet } : {}),
      ...(rule.args && rule.args.length > 0 ? { args: rule.args } : {}),
    });
  }
  syscalls.push(...PROCESS_RULES, ...socketRules(SOCKET_FAMILIES[network]));
  syscalls.push({ names: [...denied].sort(), action: "SCMP_ACT_ERRNO", errnoRet: EPERM });
  return {
    defaultAction: profile.defaultAction,
    ...(profile.defaultErrnoRet !== undefined ? { defaultErrnoRet: profile.defaultErrnoRet } : {}),
    architectures: ARCHITECTURES,
    syscalls,
  };
}
