import { chownSync, mkdirSync } from "node:fs";
import { constants } from "node:fs";
import { MS } from "./libc.ts";
import type { HelperLibc } from "./libc-helper.ts";
import { AT_FDCWD, CONFINED, madeDirIn, O_PATH, RESOLVE, through } from "./confined.ts";

/**
 * A room's vault folder, /persist/rooms/FOLDER, made on first use owned by the
 * room's user, and bound (by the room builder, at a path of bay0's) for crun
 * to bind on into the room; bay0 unbinds it when the room is gone. Rooms write inside their folders, so each step is taken
 * below the one before and never through a link a room may have planted.
 */
const CONFINED_DIRS = CONFINED | RESOLVE.NO_SYMLINKS;

export function bindVaultFolder(
  libc: HelperLibc,
  roomsDir: string,
  folder: string,
  owner: { uid: number; gid: number },
  target: string,
): string | null {
  mkdirSync(roomsDir, { recursive: true, mode: 0o711 });
  const root = libc.openat2(AT_FDCWD, roomsDir, O_PATH | constants.O_DIRECTORY, 0);
  if (!root.ok) return `${roomsDir}: ${root.message}`;
  const open = [root.value];
  try {
    for (const name of folder.split("/")) {
      const parent = open[open.length - 1] ?? root.value;
      const created = madeDirIn(parent, name, 0o700);
      const next = libc.openat2(parent, name, O_PATH | constants.O_DIRECTORY, CONFINED_DIRS);
      if (!next.ok) return `the vault folder ${folder} is not a plain directory (${next.message})`;
      open.push(next.value);
      if (created) chownSync(through(next.value), owner.uid, owner.gid);
    }
    mkdirSync(target, { recursive: true, mode: 0o700 });
    const bound = libc.mount(through(open[open.length - 1] ?? root.value), target, "", MS.BIND, "");
    return bound.ok ? null : `binding the vault folder ${folder}: ${bound.message}`;
  } catch (error) {
    return `the vault folder ${folder}: ${String(error)}`;
  } finally {
    for (const fd of open) libc.close(fd);
  }
}
