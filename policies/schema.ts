import { z } from "zod";

/**
 * The room policy schema: what a TOML file in policies/ may say. Every field
 * but `name`, `image` and `command` has a safe default (all namespaces, no
 * capabilities, no network, no vault, no nesting). Policies are spawn-time
 * constraints, never changed while a room runs. Keys are a public interface.
 */

export const NAMESPACES = ["pid", "mount", "uts", "ipc", "network", "cgroup", "user"] as const;

/** Capabilities a policy may grant inside its user namespace (the workshop's "root"). */
export const CAPABILITIES = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_FOWNER",
  "CAP_FSETID",
  "CAP_KILL",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETPCAP",
  "CAP_NET_BIND_SERVICE",
  "CAP_SYS_CHROOT",
  "CAP_AUDIT_WRITE",
  "CAP_SETFCAP",
] as const;

export const UMBILICAL_REQUESTS = ["courier.send", "room.spawn", "room.status"] as const;

export const RLIMITS = ["nofile", "nproc", "core", "stack", "fsize", "memlock"] as const;

const SIZE = /^(\d+)([KMG]?)$/;
const UNITS: Record<string, number> = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

/** "64M" -> bytes. */
export function parseSize(text: string): number {
  const m = SIZE.exec(text);
  if (!m?.[1]) return Number.NaN;
  return Number(m[1]) * (UNITS[m[2] ?? ""] ?? Number.NaN);
}

/** "256M", or a count of bytes: so a policy bay0 validated validates again to itself (the room builder's check). */
const size = (what: string, min: number) => {
  const error = `${what} must be a size such as "256M" (units K, M, G) or a number of bytes`;
  return z
    .union([z.number().int().min(0), z.string().regex(SIZE).transform(parseSize)], { error })
    .refine((n) => Number.isSafeInteger(n), `${what} is too large`)
    .refine((n) => n >= min, `${what} must be at least ${min} bytes`);
};

const DEFAULT_COURIER_MAX = 1024 ** 3;

const unique = <T extends z.ZodType>(item: T) =>
  z.array(item).refine((a) => new Set(a).size === a.length, "must not repeat an entry");

/**
 * A room or image name: it becomes a path segment, a cgroup and a crun
 * container id. "--" is reserved because it joins a nested room's names in
 * flat paths ("a/b" is "a--b"), and "room" because it names every room's own
 * leaf cgroup beside its children's nodes: either would let two rooms share
 * one identity. "bay0" is the trust line's name for bay0 itself.
 */
export const RESERVED_ROOM_NAMES: readonly string[] = Object.freeze(["room", "bay0"]);

/** Images no room may run on: the vault's tools are bay0's, mounted for its vault helper alone. */
export const RESERVED_IMAGES: readonly string[] = Object.freeze(["vault-tools"]);
export const nameSchema = z
  .string({ error: "must be a string" })
  .regex(/^[a-z][a-z0-9-]{0,30}$/, "must be 1-31 lowercase letters, digits or '-', starting with a letter")
  .refine((n) => !n.includes("--"), "must not contain '--' (it joins nested rooms' names)")
  .superRefine((n, ctx) => {
    if (RESERVED_ROOM_NAMES.includes(n))
      ctx.addIssue({
        code: "custom",
        message: `'${n}' is reserved (${n === "bay0" ? "the trust line's name for bay0" : "it names a room's own cgroup"})`,
      });
  });
const name = nameSchema;

/**
 * Invariant 3: no room shares a namespace with the host or another room. The
 * key stays (policies written for it keep working) but must name them all.
 */
const namespaces = unique(z.enum(NAMESPACES))
  .default([...NAMESPACES])
  .superRefine((list, ctx) => {
    const missing = NAMESPACES.filter((n) => !list.includes(n));
    if (missing.length > 0) {
      ctx.addIssue({
        code: "custom",
        message: `must list every namespace: rooms never share the host's (missing ${missing.join(", ")})`,
      });
    }
  });

export const policySchema = z
  .object({
    name,
    image: nameSchema
      .refine((n) => !RESERVED_IMAGES.includes(n), "is bay0's own image (the vault's tools), never a room's")
      .describe("base image name (out/images/NAME.squashfs)"),
    command: z
      .array(z.string().min(1, "must not be empty"), { error: "must be a list of strings" })
      .min(1, "must name a program"),
    env: z
      .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be a valid variable name"), z.string())
      .default({}),
    hostname: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "must be a valid hostname")
      .optional(),
    user: z
      .object(
        { uid: z.number().int().min(0).max(65535), gid: z.number().int().min(0).max(65535) },
        { error: "must be a table with uid and gid" },
      )
      .strict()
      .default({ uid: 1000, gid: 1000 }),
    namespaces,
    limits: z
      .object({
        memory_max: size("memory_max", 4 * 1024 * 1024).default(256 * 1024 * 1024),
        memory_swap_max: size("memory_swap_max", 0).default(0),
        cpu_max: z.number().min(0.01, "cpu_max is a share of one CPU, at least 0.01").max(64).optional(),
        cpu_weight: z.number().int().min(1).max(10000).default(100),
        pids_max: z.number().int().min(1).max(4_194_304).default(256),
        io_weight: z.number().int().min(1).max(10000).default(100),
      })
      .strict()
      .default({ memory_max: 256 * 1024 * 1024, memory_swap_max: 0, cpu_weight: 100, pids_max: 256, io_weight: 100 }),
    storage: z
      .object({ tmpfs_size: size("tmpfs_size", 1024 * 1024).default(64 * 1024 * 1024) })
      .strict()
      .default({ tmpfs_size: 64 * 1024 * 1024 }),
    seccomp: z
      .object({
        profile: z
          .literal("default", { error: 'only "default" exists (the containers-common allow-list)' })
          .default("default"),
        deny: unique(z.string().regex(/^[a-z0-9_]+$/, "must be a syscall name")).default([]),
      })
      .strict()
      .default({ profile: "default", deny: [] }),
    capabilities: unique(z.enum(CAPABILITIES)).default([]),
    rlimits: z.partialRecord(z.enum(RLIMITS), z.number().int().min(0)).default({}),
    network: z.enum(["none", "loopback"], { error: 'must be "none" or "loopback"' }).default("none"),
    /** A pseudo-terminal that the trusted console shows, and types into, full-screen. */
    terminal: z.boolean({ error: "must be true or false" }).default(false),
    vault: z
      .object({
        folder: z
          .string()
          .regex(/^[a-z0-9][a-z0-9._-]*(\/[a-z0-9][a-z0-9._-]*)*$/, "must be a relative path of lowercase names"),
      })
      .strict()
      .optional(),
    umbilical: z
      .object({ allow: unique(z.enum(UMBILICAL_REQUESTS)).default([]) })
      .strict()
      .default({ allow: [] }),
    /** What the courier may carry: files this room sends (at most max_size, each approved by the person) and whether it accepts deliveries into /inbox. */
    courier: z
      .object({
        deliveries: z.boolean({ error: "must be true or false" }).default(false),
        max_size: size("max_size", 0).default(DEFAULT_COURIER_MAX),
      })
      .strict()
      .default({ deliveries: false, max_size: DEFAULT_COURIER_MAX }),
    nesting: z
      .object({ allowed: z.boolean().default(false), max_depth: z.number().int().min(0).max(5).default(0) })
      .strict()
      .default({ allowed: false, max_depth: 0 }),
  })
  .strict();

export type Policy = z.infer<typeof policySchema>;
