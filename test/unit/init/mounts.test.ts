import { describe, expect, it } from "vitest";
import { ESSENTIAL_MOUNTS, mountEssentials } from "../../../init/mounts.ts";
import { FakeLibc } from "../../../sys/libc-fake.ts";
import { MS } from "../../../sys/libc.ts";

describe("mountEssentials", () => {
  it("asks the kernel for each essential mount, in order, with hardened flags", () => {
    const libc = new FakeLibc();
    const made: string[] = [];
    const { mounted, failures } = mountEssentials(
      libc,
      ESSENTIAL_MOUNTS,
      (p) => made.push(p),
      () => true,
    );
    expect(failures).toEqual([]);
    expect(mounted).toEqual(ESSENTIAL_MOUNTS.map((m) => m.target));
    const mounts = libc.calls.filter((c) => c.fn === "mount").map((c) => c.args);
    expect(mounts.map((a) => a[1])).toEqual([
      "/run",
      "/tmp",
      "/dev/pts",
      "/dev/shm",
      "/sys/fs/cgroup",
      "/sys/kernel/security",
      "/sys/firmware/efi/efivars",
    ]);
    expect(mounts.at(-1)?.[3]).toBe(MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC);
    for (const args of mounts) expect((args[3] as bigint) & MS.NOSUID).toBe(MS.NOSUID);
    expect(mounts.find((a) => a[1] === "/sys/fs/cgroup")).toEqual([
      "cgroup2",
      "/sys/fs/cgroup",
      "cgroup2",
      MS.NOSUID | MS.NODEV | MS.NOEXEC,
      "nsdelegate,memory_recursiveprot",
    ]);
    expect(made).toEqual(["/dev/pts", "/dev/shm"]);
  });

  it("reports a failed mount and still mounts the rest", () => {
    const libc = new FakeLibc();
    libc.failures.set("mount:/tmp", 16);
    const { failures } = mountEssentials(
      libc,
      ESSENTIAL_MOUNTS,
      () => undefined,
      () => true,
    );
    expect(failures).toEqual([{ target: "/tmp", error: "fake errno 16" }]);
    expect(libc.calls.filter((c) => c.fn === "mount")).toHaveLength(ESSENTIAL_MOUNTS.length);
  });

  it("skips efivarfs on a boot without EFI (its mount point is absent)", () => {
    const libc = new FakeLibc();
    expect(
      mountEssentials(
        libc,
        ESSENTIAL_MOUNTS,
        () => undefined,
        (p) => !p.includes("efi"),
      ).failures,
    ).toEqual([]);
    expect(libc.calls.filter((c) => c.fn === "mount").map((c) => c.args[1])).not.toContain("/sys/firmware/efi/efivars");
  });
});
