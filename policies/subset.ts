import type { Policy } from "./schema.ts";

/** Rooms nest at most this deep (a top-level room is depth 0). */
export const MAX_NESTING_DEPTH = 5;

export type SubsetViolation = { field: string; reason: string };

const NETWORK_RANK: Record<Policy["network"], number> = { none: 0, loopback: 1 };

const notSubset = (child: readonly string[], parent: readonly string[]): string[] =>
  child.filter((c) => !parent.includes(c));

const within = (folder: string, parent: string): boolean => folder === parent || folder.startsWith(`${parent}/`);

/**
 * Why `child` is not a subset of `parent` (empty when it is): a child room may
 * only lose capability, never gain it. `parentDepth` is the parent's nesting
 * depth (0 for a top-level room).
 */
export function subsetViolations(parent: Policy, child: Policy, parentDepth: number): SubsetViolation[] {
  const v: SubsetViolation[] = [];
  const add = (field: string, reason: string): void => {
    v.push({ field, reason });
  };

  if (!parent.nesting.allowed) add("nesting.allowed", `room '${parent.name}' may not spawn child rooms`);
  if (!parent.umbilical.allow.includes("room.spawn"))
    add("umbilical.allow", `room '${parent.name}' may not ask for child rooms (no "room.spawn")`);
  if (parentDepth + 1 > MAX_NESTING_DEPTH)
    add("nesting", `depth ${parentDepth + 1} is deeper than the maximum of ${MAX_NESTING_DEPTH}`);
  if (parent.nesting.max_depth < 1) add("nesting.max_depth", `room '${parent.name}' allows no further nesting levels`);
  if (child.nesting.allowed && !parent.nesting.allowed)
    add("nesting.allowed", "a child may not nest when its parent may not");
  if (child.nesting.max_depth > Math.max(0, parent.nesting.max_depth - 1)) {
    add(
      "nesting.max_depth",
      `${child.nesting.max_depth} exceeds the ${Math.max(0, parent.nesting.max_depth - 1)} levels left below the parent`,
    );
  }

  const limit = (field: string, c: number, p: number): void => {
    if (c > p) add(field, `${c} exceeds the parent's ${p}`);
  };
  limit("limits.memory_max", child.limits.memory_max, parent.limits.memory_max);
  limit("limits.memory_swap_max", child.limits.memory_swap_max, parent.limits.memory_swap_max);
  limit("limits.cpu_weight", child.limits.cpu_weight, parent.limits.cpu_weight);
  limit("limits.pids_max", child.limits.pids_max, parent.limits.pids_max);
  limit("limits.io_weight", child.limits.io_weight, parent.limits.io_weight);
  limit("storage.tmpfs_size", child.storage.tmpfs_size, parent.storage.tmpfs_size);
  if (parent.limits.cpu_max !== undefined) {
    if (child.limits.cpu_max === undefined)
      add("limits.cpu_max", `unlimited exceeds the parent's ${parent.limits.cpu_max}`);
    else limit("limits.cpu_max", child.limits.cpu_max, parent.limits.cpu_max);
  }
  for (const [name, value] of Object.entries(parent.rlimits)) {
    const mine = child.rlimits[name as keyof Policy["rlimits"]];
    if (mine === undefined) add(`rlimits.${name}`, `unset (unlimited) exceeds the parent's ${value}`);
    else if (value !== undefined) limit(`rlimits.${name}`, mine, value);
  }

  const allowedSyscalls = notSubset(parent.seccomp.deny, child.seccomp.deny);
  if (allowedSyscalls.length > 0)
    add("seccomp.deny", `would allow ${allowedSyscalls.join(", ")}, which the parent denies`);
  const caps = notSubset(child.capabilities, parent.capabilities);
  if (caps.length > 0) add("capabilities", `${caps.join(", ")} not held by the parent`);
  if (NETWORK_RANK[child.network] > NETWORK_RANK[parent.network])
    add("network", `"${child.network}" is wider than the parent's "${parent.network}"`);
  if (child.vault !== undefined && (parent.vault === undefined || !within(child.vault.folder, parent.vault.folder))) {
    add(
      "vault.folder",
      `'${child.vault.folder}' is outside the parent's ${parent.vault ? `'${parent.vault.folder}'` : "(no vault access)"}`,
    );
  }
  if (child.courier.deliveries && !parent.courier.deliveries)
    add("courier.deliveries", "a child may not accept deliveries when its parent does not");
  limit("courier.max_size", child.courier.max_size, parent.courier.max_size);
  const requests = notSubset(child.umbilical.allow, parent.umbilical.allow);
  if (requests.length > 0) add("umbilical.allow", `${requests.join(", ")} not allowed to the parent`);
  if (child.terminal && !parent.terminal) add("terminal", "a child may not have a terminal when its parent has none");
  if (child.image !== parent.image) add("image", `'${child.image}' is not the parent's image '${parent.image}'`);
  if (child.user.uid === 0 && parent.user.uid !== 0)
    add("user.uid", "a child may not run as root when its parent does not");
  if (child.user.gid === 0 && parent.user.gid !== 0)
    add("user.gid", "a child may not run in group root when its parent does not");
  return v;
}
