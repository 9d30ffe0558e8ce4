import { describe, expect, it } from "vitest";
import { copyDeadlineMs } from "../../../courier/carry-protocol.ts";
import { courierConfig, MOUNT_POINTS } from "../../../courier/sandbox.ts";
import { policySchema } from "../../../policies/schema.ts";
import { planRoom } from "../../../rooms/plan.ts";
import { containersProfileSchema } from "../../../rooms/seccomp.ts";

const PROFILE = containersProfileSchema.parse({
  defaultAction: "SCMP_ACT_ERRNO",
  defaultErrnoRet: 1,
  syscalls: [{ names: ["read", "write"], action: "SCMP_ACT_ALLOW" }],
});

describe("the courier's sandbox", () => {
  const receiver = planRoom(
    policySchema.parse({ name: "work", image: "minimal", command: ["/bin/true"], user: { uid: 1000, gid: 1001 } }),
  );
  const config = courierConfig(
    "ab12",
    { user: receiver.policy.user, cgroupNode: receiver.cgroup.node },
    "/run/rooms/.courier/ab12/root",
    ["report.txt", "22"],
    PROFILE,
  );

  it("runs bay0 in courier mode as the receiving room's user, with no capabilities and no new privileges", () => {
    expect(config.process.args).toEqual(["/usr/lib/bay0/bay0", "courier", "report.txt", "22"]);
    expect(config.process.user).toEqual({ uid: 1000, gid: 1001 });
    expect(config.process.capabilities).toEqual({ bounding: [], effective: [], permitted: [] });
    expect(config.process.noNewPrivileges).toBe(true);
  });

  it("gives it every namespace, the rooms' id map, a cgroup in the receiver's (which pays for what lands), and a read-only root of its program alone", () => {
    expect(config.linux.namespaces.map((n) => n.type).sort()).toEqual([
      "cgroup",
      "ipc",
      "mount",
      "network",
      "pid",
      "user",
      "uts",
    ]);
    expect(config.linux.uidMappings).toEqual([{ containerID: 0, hostID: 100_000, size: 65_536 }]);
    expect(config.linux.cgroupsPath).toBe("/rooms/work/.courier-ab12");
    expect(config.linux.resources.unified).toEqual({ "pids.max": "32" });
    expect(config.root).toEqual({ path: "/run/rooms/.courier/ab12/root", readonly: true });
    const binds = config.mounts.filter((m) => m.type === "bind");
    expect(binds.map((m) => m.source)).toEqual(["/usr/lib/bay0", "/lib", "/lib64"]);
    expect(binds.every((m) => m.options.includes("ro"))).toBe(true);
    expect(config.mounts.map((m) => m.destination)).toEqual(MOUNT_POINTS);
    expect(JSON.stringify(config.mounts)).not.toMatch(/\/run\/rooms|inbox/);
  });

  it("gives a courier 30 s and a second per 2 MiB before bay0 kills it: a 1 GiB file has 542 s", () => {
    expect(copyDeadlineMs(0)).toBe(30_000);
    expect(copyDeadlineMs(22)).toBe(30_000);
    expect(copyDeadlineMs(256 * 1024 * 1024)).toBe(158_000);
    expect(copyDeadlineMs(1024 * 1024 * 1024)).toBe(542_000);
  });
});
