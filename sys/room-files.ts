/**
 * The courier's files, opened by its carrier (courier/carry.ts) inside a
 * room's root (its overlay as bay0 mounted it, holding no /proc, /sys or
 * /dev of the room's): every lookup is CONFINED, and a file is opened for
 * reading only once it is known to be regular, so no fifo, device or socket
 * is ever opened.
 */
import {
  closeSync,
  constants,
  fchownSync,
  fstatSync,
  mkdirSync,
  openSync,
  rmSync,
  statfsSync,
  type Stats,
} from "node:fs";
import { AT_FDCWD, CONFINED, madeDirIn, O_PATH, RESOLVE, through } from "./confined.ts";
import type { HelperLibc } from "./libc-helper.ts";

const ELOOP = 40;
const ENOENT = 2;
const EXDEV = 18;

function kindOf(stats: Stats): string | null {
  if (stats.isFile()) return null;
  if (stats.isSymbolicLink()) return "a symlink";
  if (stats.isFIFO()) return "a fifo";
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return "a device";
  if (stats.isDirectory()) return "a directory";
  return stats.isSocket() ? "a socket" : "not a regular file";
}

function openRoot(libc: HelperLibc, rootDir: string): number {
  const root = libc.openat2(AT_FDCWD, rootDir, O_PATH | constants.O_DIRECTORY, 0);
  if (!root.ok) throw new Error(`${rootDir}: ${root.message}`);
  return root.value;
}

/** The mode bits' verdict for `reader` (host ids): bay0 must not read for a room what the room's user could not. */
const allowedTo = (
  stats: Stats,
  reader: { uid: number; gid: number },
  bits: { owner: number; group: number; other: number },
): boolean =>
  (stats.mode & (stats.uid === reader.uid ? bits.owner : stats.gid === reader.gid ? bits.group : bits.other)) !== 0;
const READ = { owner: 0o400, group: 0o040, other: 0o004 };
const SEARCH = { owner: 0o100, group: 0o010, other: 0o001 };

/**
 * The components of a path a room names, from its root: "." and empty ones
 * dropped, ".." taken lexically (never above the root). Lexical is exact
 * here because no component may be a link.
 */
export function pathComponents(path: string): string[] {
  const out: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") out.pop();
    else out.push(part);
  }
  return out;
}

/**
 * Opens `path` (as the room names it) read-only: the fd and its size, or why
 * it is refused. It walks the path a directory at a time, as the room's user
 * would: each directory must let that user search it, no component may be a
 * link (so what was checked is what is opened), and the file must be one
 * the user may read.
 */
export function openRoomFile(
  libc: HelperLibc,
  rootDir: string,
  path: string,
  reader: { uid: number; gid: number },
): { ok: true; fd: number; size: number } | { ok: false; reason: string } {
  const components = pathComponents(path);
  if (components.length === 0) return { ok: false, reason: `${path} is a directory; only a regular file can be sent` };
  let dir = openRoot(libc, rootDir);
  try {
    for (const [i, name] of components.entries()) {
      const step = libc.openat2(dir, name, O_PATH | constants.O_NOFOLLOW, CONFINED | RESOLVE.NO_SYMLINKS);
      if (!step.ok) {
        const reason = {
          [ENOENT]: "no such file in the room",
          [EXDEV]: "outside the room's own files",
          [ELOOP]: "a link is in the path (send the file by its own path)",
        }[step.errno];
        return { ok: false, reason: reason ?? step.message };
      }
      libc.close(dir);
      dir = step.value;
      const stats = fstatSync(dir);
      if (i < components.length - 1) {
        if (stats.isSymbolicLink())
          return { ok: false, reason: "a link is in the path (send the file by its own path)" };
        if (!stats.isDirectory()) return { ok: false, reason: "no such file in the room" };
        if (!allowedTo(stats, reader, SEARCH))
          return { ok: false, reason: `${path} is in a directory the room's user may not enter` };
        continue;
      }
      const kind = kindOf(stats);
      if (kind !== null) return { ok: false, reason: `${path} is ${kind}; only a regular file can be sent` };
      if (!allowedTo(stats, reader, READ)) return { ok: false, reason: `${path} is not readable by the room's user` };
      // The O_PATH handle pins the inode that was checked: this opens exactly it, whatever the path says now.
      return {
        ok: true,
        fd: openSync(through(dir), constants.O_RDONLY | constants.O_NOCTTY | constants.O_NONBLOCK),
        size: stats.size,
      };
    }
    return { ok: false, reason: "no such file in the room" };
  } finally {
    libc.close(dir);
  }
}

export type Inbox = { fd: number; freeBytes: number; staging: { fd: number; parent: number; name: string } };

/** A directory of `owner`'s below `parentFd`, made if missing. */
function ownDir(libc: HelperLibc, parentFd: number, name: string, owner: { uid: number; gid: number }): number {
  const created = madeDirIn(parentFd, name, 0o755);
  const dir = libc.openat2(parentFd, name, constants.O_RDONLY | constants.O_DIRECTORY, CONFINED | RESOLVE.NO_SYMLINKS);
  if (!dir.ok) throw new Error(`the room's /${name} is not a directory of its own (${dir.message})`);
  if (created) fchownSync(dir.value, owner.uid, owner.gid);
  return dir.value;
}

/** Where a courier delivers: the receiving room's /inbox, or a room's vault folder and the vault's staging directory. */
export type InboxPlace = { kind: "room"; rootDir: string } | { kind: "vault"; folder: string; stagingDir: string };

/**
 * The destination's directory (a room's /inbox is made on first use owned
 * by the room's user), the bytes free there, and a staging directory on the
 * same filesystem that no room can see. For a room: below its root's /proc,
 * which its own procfs covers (no room may mount or unmount); for the vault:
 * beside the rooms' folders, of which a room sees only its own. The courier
 * writes there and links the checked file into place, so no partial file
 * ever shows.
 */
export function openInbox(
  libc: HelperLibc,
  place: InboxPlace,
  owner: { uid: number; gid: number },
  stagingName: string,
): Inbox {
  const handles: number[] = [];
  try {
    if (place.kind === "room") {
      const root = openRoot(libc, place.rootDir);
      try {
        handles.push(ownDir(libc, root, "inbox", owner));
        const proc = libc.openat2(root, "proc", O_PATH | constants.O_DIRECTORY, CONFINED | RESOLVE.NO_SYMLINKS);
        if (!proc.ok) throw new Error(`the room's root has no /proc to stage in (${proc.message})`);
        handles.push(proc.value);
      } finally {
        libc.close(root);
      }
    } else {
      // Rooms write inside their folders, and a parent's folder holds its children's: no link is followed on the way.
      const folder = libc.openat2(
        AT_FDCWD,
        place.folder,
        constants.O_RDONLY | constants.O_DIRECTORY,
        RESOLVE.NO_SYMLINKS,
      );
      if (!folder.ok) throw new Error(`the vault folder is not a plain directory (${folder.message})`);
      handles.push(folder.value);
      mkdirSync(place.stagingDir, { recursive: true, mode: 0o711 });
      handles.push(openRoot(libc, place.stagingDir));
    }
    const [fd = -1, parent = -1] = handles;
    const staging = ownDir(libc, parent, stagingName, owner);
    const space = statfsSync(through(fd));
    return { fd, freeBytes: space.bavail * space.bsize, staging: { fd: staging, parent, name: stagingName } };
  } catch (error) {
    for (const fd of handles) closeSync(fd);
    throw error;
  }
}

/** Drops the staging directory with whatever a failed courier left in it, and closes the inbox. */
export function closeInbox(inbox: Inbox): void {
  rmSync(through(inbox.staging.parent, inbox.staging.name), { recursive: true, force: true });
  for (const fd of [inbox.staging.fd, inbox.staging.parent, inbox.fd]) closeSync(fd);
}
