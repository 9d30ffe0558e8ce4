import { describe, expect, it } from "vitest";
import { formatPolicyError, parsePolicy } from "../../../policies/parse.ts";
import type { Policy } from "../../../policies/schema.ts";
import { MAX_NESTING_DEPTH, subsetViolations } from "../../../policies/subset.ts";

function policy(extra: string): Policy {
  const result = parsePolicy(`name = "p"\nimage = "minimal"\ncommand = ["/bin/true"]\n${extra}`, "test.toml");
  if (!result.ok) throw new Error(result.errors.map(formatPolicyError).join("\n"));
  return result.policy;
}

const PARENT_TEXT = `
user = { uid = 0, gid = 0 }
capabilities = ["CAP_CHOWN", "CAP_KILL"]
network = "loopback"
[limits]
memory_max = "512M"
memory_swap_max = "64M"
cpu_max = 1.0
cpu_weight = 200
pids_max = 100
io_weight = 200
[storage]
tmpfs_size = "128M"
[seccomp]
deny = ["ptrace"]
[rlimits]
nofile = 1024
[vault]
folder = "work"
[umbilical]
allow = ["courier.send", "room.spawn"]
[nesting]
allowed = true
max_depth = 3
[courier]
deliveries = true
max_size = "64M"
`;
const PARENT = policy(PARENT_TEXT);

/** A child equal to the parent in everything a child may keep (one nesting level less). */
const EQUAL = PARENT_TEXT.replace("max_depth = 3", "max_depth = 2");

const fields = (child: Policy, depth = 0): string[] => subsetViolations(PARENT, child, depth).map((v) => v.field);

const replace = (from: string, to: string): Policy => {
  if (!EQUAL.includes(from)) throw new Error(`fixture lacks ${from}`);
  return policy(EQUAL.replace(from, to));
};

describe("subsetViolations", () => {
  it("accepts a child equal to its parent (max_depth one less)", () => {
    expect(fields(policy(EQUAL))).toEqual([]);
  });

  it("accepts a strictly narrower child", () => {
    const narrow = policy(`
[limits]
memory_max = "64M"
cpu_max = 0.5
pids_max = 10
[storage]
tmpfs_size = "8M"
[seccomp]
deny = ["ptrace", "mount"]
[rlimits]
nofile = 64
[vault]
folder = "work/drafts"
[courier]
max_size = "1M"
`);
    expect(fields(narrow)).toEqual([]);
  });

  it.each([
    ["memory_max", 'memory_max = "512M"', 'memory_max = "1G"', "limits.memory_max"],
    ["memory_swap_max", 'memory_swap_max = "64M"', 'memory_swap_max = "128M"', "limits.memory_swap_max"],
    ["cpu_max", "cpu_max = 1.0", "cpu_max = 2.0", "limits.cpu_max"],
    ["cpu_max unset", "cpu_max = 1.0", "", "limits.cpu_max"],
    ["cpu_weight", "cpu_weight = 200", "cpu_weight = 300", "limits.cpu_weight"],
    ["pids_max", "pids_max = 100", "pids_max = 101", "limits.pids_max"],
    ["io_weight", "io_weight = 200", "io_weight = 201", "limits.io_weight"],
    ["tmpfs_size", 'tmpfs_size = "128M"', 'tmpfs_size = "129M"', "storage.tmpfs_size"],
    ["rlimit raised", "nofile = 1024", "nofile = 4096", "rlimits.nofile"],
    ["rlimit dropped", "nofile = 1024", "", "rlimits.nofile"],
    ["syscall re-allowed", 'deny = ["ptrace"]', "deny = []", "seccomp.deny"],
    [
      "capability added",
      'capabilities = ["CAP_CHOWN", "CAP_KILL"]',
      'capabilities = ["CAP_CHOWN", "CAP_KILL", "CAP_SETUID"]',
      "capabilities",
    ],
    ["vault outside", 'folder = "work"', 'folder = "personal"', "vault.folder"],
    ["vault sibling prefix", 'folder = "work"', 'folder = "workbench"', "vault.folder"],
    [
      "umbilical widened",
      'allow = ["courier.send", "room.spawn"]',
      'allow = ["courier.send", "room.spawn", "room.status"]',
      "umbilical.allow",
    ],
    ["nesting deeper", "max_depth = 2", "max_depth = 3", "nesting.max_depth"],
    ["courier size", 'max_size = "64M"', 'max_size = "65M"', "courier.max_size"],
  ])("refuses a wider %s", (_what, from, to, field) => {
    expect(fields(replace(from, to))).toEqual([field]);
  });

  it("refuses a terminal when the parent has none, and any image but the parent's", () => {
    const withTerminal = policy(EQUAL.replace("[limits]", "terminal = true\n[limits]"));
    expect(fields(withTerminal)).toEqual(["terminal"]);
    expect(subsetViolations({ ...PARENT, terminal: true }, withTerminal, 0)).toEqual([]);
    expect(fields({ ...policy(EQUAL), image: "workshop" })).toEqual(["image"]);
  });

  it("never lets a room run on the vault's tools, nor be named bay0", () => {
    const tools = parsePolicy(`name = "p"\nimage = "vault-tools"\ncommand = ["/bin/true"]\n`, "t.toml");
    expect(tools.ok ? [] : tools.errors.map((e) => `${e.field}: ${e.message}`)).toEqual([
      "image: is bay0's own image (the vault's tools), never a room's",
    ]);
    const bay0 = parsePolicy(`name = "bay0"\nimage = "minimal"\ncommand = ["/bin/true"]\n`, "t.toml");
    expect(bay0.ok ? [] : bay0.errors.map((e) => e.field)).toEqual(["name"]);
  });

  it("refuses deliveries when the parent accepts none", () => {
    const parent = { ...PARENT, courier: { deliveries: false, max_size: PARENT.courier.max_size } };
    expect(subsetViolations(parent, policy(EQUAL), 0).map((v) => v.field)).toEqual(["courier.deliveries"]);
  });

  it("refuses wider network", () => {
    const parent = { ...PARENT, network: "none" as const };
    expect(subsetViolations(parent, policy(EQUAL), 0).map((v) => v.field)).toEqual(["network"]);
  });

  it("refuses vault access when the parent has none", () => {
    const { vault: _vault, ...parent } = PARENT;
    expect(subsetViolations(parent, policy(EQUAL), 0).map((v) => v.field)).toEqual(["vault.folder"]);
  });

  it("refuses root in the child when the parent is not root", () => {
    const parent = { ...PARENT, user: { uid: 1000, gid: 0 } };
    expect(subsetViolations(parent, policy(EQUAL), 0).map((v) => v.field)).toEqual(["user.uid"]);
  });

  it("refuses group root in the child when the parent's group is not root", () => {
    const parent = { ...PARENT, user: { uid: 0, gid: 1000 } };
    expect(subsetViolations(parent, policy(EQUAL), 0).map((v) => v.field)).toEqual(["user.gid"]);
  });

  it("refuses any child when the parent may not ask for one over the umbilical", () => {
    const parent = { ...PARENT, umbilical: { allow: ["courier.send" as const] } };
    const child = policy(EQUAL.replace('allow = ["courier.send", "room.spawn"]', 'allow = ["courier.send"]'));
    const reasons = subsetViolations(parent, child, 0);
    expect(reasons.map((v) => v.field)).toEqual(["umbilical.allow"]);
    expect(reasons[0]?.reason).toMatch(/no "room.spawn"/);
  });

  it("refuses any child when the parent may not nest", () => {
    const parent = { ...PARENT, nesting: { allowed: false, max_depth: 0 } };
    const child = policy(EQUAL.replace("allowed = true", "allowed = false").replace("max_depth = 2", "max_depth = 0"));
    const reasons = subsetViolations(parent, child, 0);
    expect(reasons.map((v) => v.field)).toEqual(["nesting.allowed", "nesting.max_depth"]);
    expect(reasons[0]?.reason).toMatch(/may not spawn child rooms/);
  });

  it(`refuses depth ${MAX_NESTING_DEPTH + 1} and accepts depth ${MAX_NESTING_DEPTH}`, () => {
    const deep = { ...PARENT, nesting: { allowed: true, max_depth: 5 } };
    const child = policy(EQUAL.replace("max_depth = 2", "max_depth = 0"));
    expect(subsetViolations(deep, child, MAX_NESTING_DEPTH - 1)).toEqual([]);
    const refused = subsetViolations(deep, child, MAX_NESTING_DEPTH);
    expect(refused.map((v) => v.field)).toEqual(["nesting"]);
    expect(refused[0]?.reason).toBe("depth 6 is deeper than the maximum of 5");
  });

  it("names every widened field at once", () => {
    const wide = replace("pids_max = 100", "pids_max = 1000");
    const both = { ...wide, capabilities: [...wide.capabilities, "CAP_SETUID" as const] };
    expect(fields(both).sort()).toEqual(["capabilities", "limits.pids_max"]);
  });
});
