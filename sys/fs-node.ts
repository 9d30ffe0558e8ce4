import { chownSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { readTextOrNull } from "./files.ts";

/**
 * The real file operations behind the helpers' rooms' root and image code
 * (rooms/rootfs.ts RootfsFs for the room builder, rooms/images.ts ImageFs for
 * the image helper); tests pass fakes of the same shapes. The cgroups' are
 * sys/cgroup-fs.ts.
 */
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
