import { mkdirSync, rmdirSync, writeFileSync } from "node:fs";
import { readTextOrNull } from "./files.ts";

/** The real file operations behind rooms/cgroup.ts CgroupFs (bay0's and the room builder's); tests pass fakes. */
export const cgroupFs = {
  mkdir: (path: string): void => void mkdirSync(path, { recursive: true }),
  write: (path: string, value: string): void => writeFileSync(path, value),
  read: readTextOrNull,
  rmdir: (path: string): void => rmdirSync(path),
};
