import { mkdirSync } from "node:fs";
import { RESOLVE } from "./libc.ts";

/**
 * How bay0 and its helpers look up paths inside a room's tree from outside
 * it: every lookup stays in that root and that filesystem and never follows
 * a magic link.
 */
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
