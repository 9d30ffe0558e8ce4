import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import Ajv from "ajv-draft-04";
import addFormats from "ajv-formats";
import { describe, expect, it } from "vitest";
import { formatPolicyError, parsePolicy } from "../../../policies/parse.ts";
import type { Policy } from "../../../policies/schema.ts";
import { cgroupLimits, ociConfig } from "../../../rooms/oci.ts";
import { buildPlan, splitStorage } from "../../../rooms/build-plan.ts";
import { planRoom, type RoomPlan } from "../../../rooms/plan.ts";
import { ANCHOR_DENY, CLONE_NAMESPACE_FLAGS, containersProfileSchema, socketRules } from "../../../rooms/seccomp.ts";

const POLICIES = join(import.meta.dirname, "../../../policies");
/** The official OCI runtime-spec JSON schema (draft-04), vendored with its licence. */
const SCHEMA_DIR = join(import.meta.dirname, "../../fixtures/oci-runtime-spec-schema");
const PINNED_PROFILE = join(import.meta.dirname, "../../../rooms/seccomp-base/containers-common.json");
const profile = containersProfileSchema.parse(JSON.parse(readFileSync(PINNED_PROFILE, "utf8")));
const configOf = (plan: RoomPlan) => ociConfig(buildPlan(plan), profile, cgroupLimits(plan));

function load(file: string): Policy {
  const result = parsePolicy(readFileSync(join(POLICIES, file), "utf8"), file);
  if (!result.ok) throw new Error(result.errors.map(formatPolicyError).join("\n"));
  return result.policy;
}

function ociValidator() {
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  // The schema files reference each other by file name ("defs.json#/…").
  for (const file of readdirSync(SCHEMA_DIR).filter((f) => f.endsWith(".json"))) {
    ajv.addSchema({ ...(JSON.parse(readFileSync(join(SCHEMA_DIR, file), "utf8")) as object), id: file });
  }
  const validate = ajv.getSchema("config-schema.json");
  if (!validate) throw new Error("OCI config schema not found");
  return validate;
}

describe("ociConfig", () => {
  const validate = ociValidator();
  const shipped = readdirSync(POLICIES)
    .filter((f) => f.endsWith(".toml"))
    .sort();

  it.each(shipped)("%s gives a valid OCI runtime config, pinned", async (file) => {
    const config = configOf(planRoom(load(file)));
    expect(validate(config), JSON.stringify(validate.errors)).toBe(true);
    await expect(JSON.stringify(config, null, 2)).toMatchFileSnapshot(
      `./__snapshots__/${file.replace(".toml", "")}.config.json`,
    );
  });

  it("the schema check itself rejects a broken config", () => {
    const config = configOf(planRoom(load("web.toml")));
    expect(validate({ ...config, process: { ...config.process, args: 5 } })).toBe(false);
  });

  it("confines every room: all namespaces, no new privileges, user namespace mapping, limits in a leaf cgroup", () => {
    const plan = planRoom(load("web.toml"));
    const config = configOf(plan);
    expect(config.linux.namespaces.map((n) => n.type).sort()).toEqual([
      "cgroup",
      "ipc",
      "mount",
      "network",
      "pid",
      "user",
      "uts",
    ]);
    expect(config.process.noNewPrivileges).toBe(true);
    expect(config.process.capabilities.bounding).toEqual([]);
    expect(config.process.user).toEqual({ uid: 1000, gid: 1000 });
    expect(config.linux.uidMappings).toEqual([{ containerID: 0, hostID: 100000, size: 65536 }]);
    expect(config.linux.cgroupsPath).toBe("/rooms/web/room");
    expect(config.linux.resources.unified["memory.max"]).toBe(String(512 * 1024 * 1024));
    expect(config.linux.maskedPaths).toContain("/proc/kcore");
    expect(config.linux.readonlyPaths).toContain("/proc/sys");
    expect(config.mounts.find((m) => m.destination === "/sys")?.options).toContain("ro");
  });

  it("lets a room without network open Unix sockets only, a loopback room unix, inet and inet6; any other family gets EAFNOSUPPORT", () => {
    const sockets = (file: string) =>
      configOf(planRoom(load(file))).linux.seccomp.syscalls.filter((r) => r.names.includes("socket"));
    const allowed = (file: string) =>
      sockets(file)
        .filter((r) => r.action === "SCMP_ACT_ALLOW")
        .map((r) => r.args?.[0]);
    expect(allowed("web.toml")).toEqual([{ index: 0, value: 1, op: "SCMP_CMP_EQ" }]);
    expect(allowed("workshop.toml").map((a) => a?.value)).toEqual([1, 2, 10]);
    for (const file of ["web.toml", "workshop.toml"]) {
      const rules = sockets(file);
      expect(rules.every((r) => r.names.length === 1 && r.args?.length === 1)).toBe(true);
      expect(rules.filter((r) => r.action === "SCMP_ACT_ERRNO").every((r) => r.errnoRet === 97)).toBe(true);
    }
  });

  it("covers every socket family exactly once: allowed ones allowed, every other refused", () => {
    const rules = socketRules([1, 2, 10]);
    const verdict = (family: number): string[] =>
      rules
        .filter((r) => {
          const arg = r.args?.[0];
          return arg !== undefined && (arg.op === "SCMP_CMP_EQ" ? family === arg.value : family > arg.value);
        })
        .map((r) => r.action);
    for (let family = 0; family < 64; family++) {
      expect(verdict(family)).toEqual([[1, 2, 10].includes(family) ? "SCMP_ACT_ALLOW" : "SCMP_ACT_ERRNO"]);
    }
    expect(verdict(2 ** 40)).toEqual(["SCMP_ACT_ERRNO"]);
  });

  it("allows clone only without namespace flags and answers clone3 with ENOSYS; no base rule for either survives", () => {
    for (const file of ["web.toml", "workshop.toml"]) {
      const rules = configOf(planRoom(load(file))).linux.seccomp.syscalls;
      const clone = rules.filter((r) => r.names.includes("clone"));
      expect(clone[0]).toEqual({
        names: ["clone"],
        action: "SCMP_ACT_ALLOW",
        args: [{ index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" }],
      });
      // Each namespace flag alone is refused with EPERM; together the refusals cover exactly the allow rule's mask.
      const refused = clone.slice(1);
      expect(
        refused.every(
          (r) => r.action === "SCMP_ACT_ERRNO" && r.errnoRet === 1 && r.args?.[0]?.value === r.args?.[0]?.valueTwo,
        ),
      ).toBe(true);
      expect(refused.reduce((mask, r) => mask | (r.args?.[0]?.value ?? 0), 0)).toBe(CLONE_NAMESPACE_FLAGS);
      expect(refused).toHaveLength(7);
      expect(rules.filter((r) => r.names.includes("clone3"))).toEqual([
        { names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: 38 },
      ]);
    }
    // CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET
    expect(CLONE_NAMESPACE_FLAGS).toBe(
      0x20000 | 0x2000000 | 0x4000000 | 0x8000000 | 0x10000000 | 0x20000000 | 0x40000000,
    );
  });

  it("filters the native architecture only: no 32-bit or x32 entry points", () => {
    expect(configOf(planRoom(load("web.toml"))).linux.seccomp.architectures).toEqual(["SCMP_ARCH_X86_64"]);
  });

  it("builds from the pinned containers-common profile, byte for byte", () => {
    const digest = createHash("sha256").update(readFileSync(PINNED_PROFILE)).digest("hex");
    expect(digest).toBe("cc374cf23846ce1f62f4dc807a8e2b8673c783c6f56cb475467621035d281e6c");
    expect(readFileSync(join(PINNED_PROFILE, "..", "README.md"), "utf8")).toContain(digest);
  });

  it("keeps every write of a room inside its storage promise: /dev, /dev/shm and the writable layer add up to tmpfs_size", () => {
    for (const total of [1024 * 1024, 64 * 1024 * 1024, 1024 ** 3]) {
      const split = splitStorage(total);
      expect(split.devBytes + split.shmBytes + split.scratchBytes).toBe(total);
      expect(split.scratchBytes).toBeGreaterThanOrEqual(total / 2);
    }
    const plan = buildPlan(planRoom(load("web.toml")));
    const mounts = configOf(plan).mounts;
    expect(mounts.find((m) => m.destination === "/dev")?.options).toContain(`size=${plan.storage.devBytes}`);
    expect(mounts.find((m) => m.destination === "/dev/shm")?.options).toContain(`size=${plan.storage.shmBytes}`);
  });

  it("masks /proc/interrupts, and shares no constant with the configs it makes", () => {
    const plan = planRoom(load("web.toml"));
    const a = configOf(plan);
    expect(a.linux.maskedPaths).toContain("/proc/interrupts");
    a.linux.maskedPaths.pop();
    a.linux.resources.devices.pop();
    const b = configOf(plan);
    expect(b.linux.maskedPaths).toContain("/proc/interrupts");
    expect(b.linux.resources.devices).toHaveLength(a.linux.resources.devices.length + 1);
  });

  it("denies Anchor's dangerous syscalls in every room", () => {
    const config = configOf(planRoom(load("web.toml")));
    const denied = config.linux.seccomp.syscalls.find(
      (r) => r.action === "SCMP_ACT_ERRNO" && r.names.includes("mount"),
    );
    expect(denied?.names).toEqual(expect.arrayContaining([...ANCHOR_DENY]));
    const allowed = config.linux.seccomp.syscalls.filter((r) => r.action === "SCMP_ACT_ALLOW").flatMap((r) => r.names);
    for (const name of ANCHOR_DENY) expect(allowed).not.toContain(name);
  });

  it("gives the workshop root inside its user namespace with its listed capabilities", () => {
    const config = configOf(planRoom(load("workshop.toml")));
    expect(config.process.user).toEqual({ uid: 0, gid: 0 });
    expect(config.process.capabilities.effective).toContain("CAP_SETUID");
    expect(config.process.capabilities.effective).not.toContain("CAP_SYS_ADMIN");
    expect(config.linux.uidMappings[0]?.hostID).toBeGreaterThan(0);
  });

  it("binds a room's vault folder at /vault, from bay0's bind outside the room's directory; a room without the key has none", () => {
    const parsed = parsePolicy(
      'name = "docs"\nimage = "minimal"\ncommand = ["/bin/true"]\n[vault]\nfolder = "docs"',
      "docs.toml",
    );
    if (!parsed.ok) throw new Error("docs.toml does not parse");
    const plan = planRoom(parsed.policy);
    const mount = configOf(plan).mounts.find((m) => m.destination === "/vault");
    expect(mount).toEqual({
      destination: "/vault",
      type: "bind",
      source: "/run/rooms/.vault/docs",
      options: ["bind", "nosuid", "nodev", "noexec"],
    });
    expect(plan.dirs.vault.startsWith(`${plan.dirs.base}/`)).toBe(false);
    expect(configOf(planRoom(load("web.toml"))).mounts.some((m) => m.destination === "/vault")).toBe(false);
  });

  it("nests a child's cgroup under its parent's node", () => {
    const parent = planRoom(load("work.toml"));
    const child = planRoom({ ...load("web.toml"), name: "kid" }, parent);
    expect(child.id).toBe("work/kid");
    expect(child.depth).toBe(1);
    expect(child.cgroup).toEqual({ node: "/rooms/work/kid", leaf: "/rooms/work/kid/room" });
    expect(child.containerId).toBe("anchor-work--kid");
  });

  it("puts in the config exactly the limits it is given (those the kernel can apply)", () => {
    const plan = planRoom(load("web.toml"));
    expect(ociConfig(buildPlan(plan), profile, { "pids.max": "7" }).linux.resources.unified).toEqual({
      "pids.max": "7",
    });
  });

  it("turns cpu_max into a cgroup cpu.max quota", () => {
    const plan = planRoom({ ...load("web.toml"), limits: { ...load("web.toml").limits, cpu_max: 0.5 } });
    expect(cgroupLimits(plan)["cpu.max"]).toBe("50000 100000");
  });
});
