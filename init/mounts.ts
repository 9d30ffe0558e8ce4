import { existsSync, mkdirSync } from "node:fs";
import { MS, type Libc } from "../sys/libc.ts";

export type MountSpec = {
  source: string;
  target: string;
  fstype: string;
  flags: bigint;
  data: string;
  onlyIfPresent?: true;
};

/**
 * The essentials bay0 mounts on top of what preinit left (/, /proc, /sys,
 * /dev). Order matters: /dev/pts and /dev/shm live inside /dev.
 */
export const ESSENTIAL_MOUNTS: readonly MountSpec[] = [
  { source: "run", target: "/run", fstype: "tmpfs", flags: MS.NOSUID | MS.NODEV, data: "mode=0755,size=20%" },
  { source: "tmp", target: "/tmp", fstype: "tmpfs", flags: MS.NOSUID | MS.NODEV, data: "mode=1777,size=20%" },
  {
    source: "devpts",
    target: "/dev/pts",
    fstype: "devpts",
    flags: MS.NOSUID | MS.NOEXEC,
    data: "newinstance,ptmxmode=0666,mode=0620,gid=5",
  },
  { source: "shm", target: "/dev/shm", fstype: "tmpfs", flags: MS.NOSUID | MS.NODEV, data: "mode=1777,size=10%" },
  {
    source: "cgroup2",
    target: "/sys/fs/cgroup",
    fstype: "cgroup2",
    flags: MS.NOSUID | MS.NODEV | MS.NOEXEC,
    data: "nsdelegate,memory_recursiveprot",
  },
  {
    source: "securityfs",
    target: "/sys/kernel/security",
    fstype: "securityfs",
    flags: MS.NOSUID | MS.NODEV | MS.NOEXEC,
    data: "",
  },
  // Read-only: bay0 only reads the stub's LoaderDevicePartUUID; nothing may rewrite firmware variables. Absent on a non-EFI boot.
  {
    source: "efivarfs",
    target: "/sys/firmware/efi/efivars",
    fstype: "efivarfs",
    flags: MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC,
    data: "",
    onlyIfPresent: true,
  },
];

export type MountFailure = { target: string; error: string };

/**
 * Mounts each spec in order, creating mount points that live on writable
 * filesystems (/dev is devtmpfs; the read-only root ships its own). Returns
 * the failures; an empty list means all essentials are in place.
 */
export function mountEssentials(
  libc: Libc,
  specs: readonly MountSpec[] = ESSENTIAL_MOUNTS,
  makeDir: (path: string) => void = (path) => mkdirSync(path, { recursive: true }),
  present: (path: string) => boolean = existsSync,
): { mounted: string[]; failures: MountFailure[] } {
  const mounted: string[] = [];
  const failures: MountFailure[] = [];
  for (const spec of specs) {
    if (spec.onlyIfPresent && !present(spec.target)) continue;
    try {
      if (spec.target.startsWith("/dev/")) makeDir(spec.target);
    } catch (error) {
      failures.push({ target: spec.target, error: String(error) });
      continue;
    }
    const result = libc.mount(spec.source, spec.target, spec.fstype, spec.flags, spec.data);
    if (result.ok) mounted.push(spec.target);
    else failures.push({ target: spec.target, error: result.message });
  }
  return { mounted, failures };
}
