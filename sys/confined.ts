import { mkdirSync } from "node:fs";

/**
 * How bay0's helpers look up paths inside a room's tree from outside
 * it: every lookup stays in that root and that filesystem and never follows
 * a magic link.
 */
export const AT_FDCWD = -100;
/** linux/openat2.h */
export const RESOLVE = { NO_XDEV: 0x01, NO_MAGICLINKS: 0x02, NO_SYMLINKS: 0x04, IN_ROOT: 0x10 } as const;
/** Open flags Node's constants lack (x86-64). */
export const O_PATH = 0o10000000;

export const CONFINED = RESOLVE.IN_ROOT | RESOLVE.NO_MAGICLINKS | RESOLVE.NO_XDEV;

/** A path to what `fd` holds (and `name` below it), through procfs: how Node's path calls reach an fd. */
export const through = (fd: number, name = ""): string => `/proc/self/fd/${fd}${name === "" ? "" : `/${name}`}`;

/** Makes `name` below the directory `parentFd` (never through a link: mkdir does not follow one); false when it exists. */
export function madeDirIn(parentFd: number, name: string, mode: number): boolean {
  try {
    mkdirSync(through(parentFd, name), mode);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    return false;
  }
}
