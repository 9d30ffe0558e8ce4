import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import Ajv from "ajv-draft-04";
import addFormats from "ajv-formats";
import { describe, expect, it } from "vitest";
import { formatPolicyError, parsePolicy } from "../../../policies/parse.ts";
import type { Policy } from "../../../policies/schema.ts";
import { cgroupLimits, ociConfig } from "../../../rooms/oci.ts";
import { planRoom } from "../../../rooms/plan.ts";
import { ANCHOR_DENY, containersProfileSchema } from "../../../rooms/seccomp.ts";

const POLICIES = join(import.meta.dirname, "../../../policies");
/** The official OCI runtime-spec JSON schema (draft-04), vendored with its licence. */
const SCHEMA_DIR = join(import.meta.dirname, "../../fixtures/oci-runtime-spec-schema");
const profile = containersProfileSchema.parse(JSON.parse(readFileSync("/usr/share/containers/seccomp.json", "utf8")));

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
  const shipped = readdirSync(POLICIES).filter((f) => f.endsWith(".toml")).sort();

  it.each(shipped)("%s gives a valid OCI runtime config, pinned", async (file) => {
    const config = ociConfig(planRoom(load(file)), profile);
    expect(validate(config), JSON.stringify(validate.errors)).toBe(true);
    await expect(JSON.stringify(config, null, 2)).toMatchFileSnapshot(`./__snapshots__/${file.replace(".toml", "")}.config.json`);
  });

  it("the schema check itself rejects a broken config", () => {
    const config = ociConfig(planRoom(load("web.toml")), profile);
    expect(validate({ ...config, process: { ...config.process, args: 5 } })).toBe(false);
  });

  it("confines every room: all namespaces, no new privileges, user namespace mapping, limits in a leaf cgroup", () => {
    const plan = planRoom(load("web.toml"));
    const config = ociConfig(plan, profile);
    expect(config.linux.namespaces.map((n) => n.type).sort()).toEqual(["cgroup", "ipc", "mount", "network", "pid", "user", "uts"]);
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

  it("lets a room without network open Unix sockets only; a loopback room keeps the base socket rules", () => {
    const none = ociConfig(planRoom(load("web.toml")), profile).linux.seccomp.syscalls.filter((r) => r.names.includes("socket"));
    expect(none).toEqual([
      { names: ["socket"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: 1, op: "SCMP_CMP_EQ" }] },
      { names: ["socket"], action: "SCMP_ACT_ERRNO", errnoRet: 97, args: [{ index: 0, value: 1, op: "SCMP_CMP_NE" }] },
    ]);
    const loopback = ociConfig(planRoom(load("workshop.toml")), profile).linux.seccomp.syscalls.filter((r) => r.names.includes("socket"));
    expect(loopback.some((r) => r.action === "SCMP_ACT_ALLOW" && r.args?.[0]?.value !== 1)).toBe(true);
  });

  it("denies Anchor's dangerous syscalls in every room", () => {
    const config = ociConfig(planRoom(load("web.toml")), profile);
    const denied = config.linux.seccomp.syscalls.find((r) => r.action === "SCMP_ACT_ERRNO" && r.names.includes("mount"));
    expect(denied?.names).toEqual(expect.arrayContaining([...ANCHOR_DENY]));
    const allowed = config.linux.seccomp.syscalls.filter((r) => r.action === "SCMP_ACT_ALLOW").flatMap((r) => r.names);
    for (const name of ANCHOR_DENY) expect(allowed).not.toContain(name);
  });

  it("gives the workshop root inside its user namespace with its listed capabilities", () => {
    const config = ociConfig(planRoom(load("workshop.toml")), profile);
    expect(config.process.user).toEqual({ uid: 0, gid: 0 });
    expect(config.process.capabilities.effective).toContain("CAP_SETUID");
    expect(config.process.capabilities.effective).not.toContain("CAP_SYS_ADMIN");
    expect(config.linux.uidMappings[0]?.hostID).toBeGreaterThan(0);
  });

  it("nests a child's cgroup under its parent's node", () => {
    const parent = planRoom(load("work.toml"));
    const child = planRoom({ ...load("web.toml"), name: "kid" }, parent);
    expect(child.id).toBe("work/kid");
    expect(child.depth).toBe(1);
    expect(child.cgroup).toEqual({ node: "/rooms/work/kid", leaf: "/rooms/work/kid/room" });
    expect(child.containerId).toBe("anchor-work--kid");
  });

  it("turns cpu_max into a cgroup cpu.max quota", () => {
    const plan = planRoom({ ...load("web.toml"), limits: { ...load("web.toml").limits, cpu_max: 0.5 } });
    expect(cgroupLimits(plan)["cpu.max"]).toBe("50000 100000");
  });
});
