import { MNT_DETACH, MS, type Libc } from "../sys/libc.ts";
import type { BuildPlan } from "./build-plan.ts";
import { ROOM_ID_MAP } from "./plan.ts";

export type RootfsFs = {
  mkdir(path: string): void;
  chown(path: string, uid: number, gid: number): void;
  writeFile(path: string, text: string): void;
  /** A file's text, or null when it does not exist (or cannot be read). */
  read(path: string): string | null;
  remove(path: string): void;
};

/**
 * Builds a room's root: a tmpfs capped at the policy's size takes every
 * write (overlay upper and work dirs); the image stays the read-only lower
 * layer. The upper dir belongs to the room's root, so the room owns its
 * copy-on-write view and nothing else. Returns an error message or null.
 */
export function prepareRootfs(libc: Libc, fs: RootfsFs, plan: BuildPlan): string | null {
  const { dirs } = plan;
  for (const dir of [dirs.scratch, dirs.rootfs, dirs.bundle]) fs.mkdir(dir);
  const tmpfs = libc.mount(
    "room-scratch",
    dirs.scratch,
    "tmpfs",
    MS.NOSUID | MS.NODEV,
    `size=${plan.storage.scratchBytes},mode=0700`,
  );
  if (!tmpfs.ok) return `tmpfs on ${dirs.scratch}: ${tmpfs.message}`;
  fs.mkdir(dirs.upper);
  fs.mkdir(dirs.work);
  fs.chown(dirs.upper, ROOM_ID_MAP.hostId, ROOM_ID_MAP.hostId);
  const overlay = libc.mount(
    "room-root",
    dirs.rootfs,
    "overlay",
    MS.NOSUID | MS.NODEV,
    `lowerdir=${plan.imageMount},upperdir=${dirs.upper},workdir=${dirs.work}`,
  );
  return overlay.ok ? null : `overlay on ${dirs.rootfs}: ${overlay.message}`;
}

/** Drops the room's root and every write it held. */
export function teardownRootfs(libc: Libc, fs: RootfsFs, plan: BuildPlan): void {
  // The vault folder's bind too (bay0 unbinds it as well): one a stalled builder made late must not stay.
  for (const target of [plan.dirs.vault, plan.dirs.rootfs, plan.dirs.scratch]) libc.umount2(target, MNT_DETACH);
  fs.remove(plan.dirs.base);
}
