import { chownSync, existsSync, mkdirSync, readdirSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { readTextOrNull } from "./files.ts";

/**
 * The real file operations behind the rooms' cgroup, root and image code
 * (rooms/cgroup.ts CgroupFs, rooms/rootfs.ts RootfsFs, rooms/images.ts
 * ImageFs); tests pass fakes of the same shapes.
 */
export const cgroupFs = {
  mkdir: (path: string): void => void mkdirSync(path, { recursive: true }),
  write: (path: string, value: string): void => writeFileSync(path, value),
  read: readTextOrNull,
  rmdir: (path: string): void => rmdirSync(path),
};

export const rootfsFs = {
  // Traversable (not readable) by others: crun resolves the room's root from inside its user namespace.
  mkdir: (path: string): void => void mkdirSync(path, { recursive: true, mode: 0o711 }),
  chown: (path: string, uid: number, gid: number): void => chownSync(path, uid, gid),
  writeFile: (path: string, text: string): void => writeFileSync(path, text),
  read: readTextOrNull,
  remove: (path: string): void => rmSync(path, { recursive: true, force: true }),
};

export const imageFs = {
  list: (dir: string): string[] => (existsSync(dir) ? readdirSync(dir) : []),
  read: readTextOrNull,
  mkdir: (path: string): void => void mkdirSync(path, { recursive: true }),
};
