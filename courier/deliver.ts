/**
 * The courier: one process per approved transfer, started by bay0 in its own
 * namespaces as the receiving room's user (courier/sandbox.ts), never PID 1.
 * It sees the approved bytes as its stdin (the carrier's staged copy, which
 * no room can reach, so nothing is hashed again; courier/carry.ts), the
 * destination folder as fd 3 and a staging folder on the same filesystem,
 * which the receiving room cannot see, as fd 4; nothing else of any room. It
 * copies them into the staging folder, syncs, then links them into the
 * destination under the first free name (never over another file): the file
 * appears there whole or not at all. It prints one JSON line saying which.
 */
import { closeSync, constants, fsyncSync, linkSync, openSync, readSync, unlinkSync, writeSync } from "node:fs";
import { suffixed } from "./names.ts";

const SOURCE_FD = 0;
const FOLDER = "/proc/self/fd/3";
const STAGING = "/proc/self/fd/4";
const STAGED_NAME = "file";
const CHUNK_BYTES = 1 << 20;
const MAX_SUFFIX = 1000;

export type CourierResult = { ok: true; name: string } | { ok: false; reason: string };

/** Copies `size` bytes of the source; false when it holds fewer. */
function copy(out: number, size: number): boolean {
  const buffer = Buffer.alloc(Math.min(CHUNK_BYTES, Math.max(size, 1)));
  for (let at = 0; at < size;) {
    const got = readSync(SOURCE_FD, buffer, 0, Math.min(buffer.length, size - at), at);
    if (got === 0) return false;
    for (let written = 0; written < got;) written += writeSync(out, buffer, written, got - written);
    at += got;
  }
  return true;
}

const failure = (error: unknown): CourierResult => {
  const code = (error as NodeJS.ErrnoException).code;
  const reason = { ENOSPC: "no space left where the file goes", EACCES: "the destination folder is not writable" }[
    code ?? ""
  ];
  return { ok: false, reason: reason ?? (error instanceof Error ? error.message : String(error)) };
};

/** Copies, syncs and links under the first free name. */
function land(out: number, staged: string, name: string, size: number): string {
  let copied: boolean;
  try {
    copied = copy(out, size);
    fsyncSync(out);
  } finally {
    closeSync(out);
  }
  if (!copied) throw new Error("the file shrank after it was approved");
  for (let n = 1; n <= MAX_SUFFIX; n++) {
    const candidate = n === 1 ? name : suffixed(name, n);
    try {
      linkSync(staged, `${FOLDER}/${candidate}`);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") continue;
      throw error;
    }
    unlinkSync(staged);
    const folder = openSync(FOLDER, constants.O_RDONLY | constants.O_DIRECTORY);
    fsyncSync(folder);
    closeSync(folder);
    return candidate;
  }
  throw new Error(`${MAX_SUFFIX} files called ${name} already wait there`);
}

/** argv: the name to deliver as and the approved size. */
export function deliver([name = "", sizeText = ""]: string[]): CourierResult {
  const size = Number(sizeText);
  if (name === "" || !Number.isSafeInteger(size) || size < 0) return { ok: false, reason: "bad courier arguments" };
  const staged = `${STAGING}/${STAGED_NAME}`;
  try {
    const out = openSync(
      staged,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      0o644,
    );
    return { ok: true, name: land(out, staged, name, size) };
  } catch (error) {
    // bay0 drops the staging folder with whatever is left in it.
    return failure(error);
  }
}

export function runCourier(argv: string[]): void {
  process.stdout.write(`${JSON.stringify(deliver(argv))}\n`);
}
