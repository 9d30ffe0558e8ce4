/**
 * The courier: one process per approved transfer, started by bay0 in its own
 * namespaces as the receiving room's user (courier/sandbox.ts), never PID 1.
 * It sees the approved bytes as its stdin: the carrier's staged copy, which
 * no room can reach, so nothing is hashed again (courier/carry.ts); or, when
 * the sender had no memory left for a copy, the sender's file itself, whose
 * SHA-256 it then checks against the approved one as it copies. The
 * destination folder is fd 3 and a staging folder on the same filesystem,
 * which the receiving room cannot see, fd 4; nothing else of any room. It
 * copies into the staging folder, syncs, then links the file into the
 * destination under the first free name (never over another file): the file
 * appears there whole or not at all. It prints one JSON line saying which.
 */
import { closeSync, constants, fsyncSync, linkSync, openSync, readSync, unlinkSync, writeSync } from "node:fs";

/** The n-th name tried when `name` is taken (n ≥ 2): "report-2.txt", "archive-2.tar.gz", "notes-2". */
export function suffixed(name: string, n: number): string {
  const dot = name.indexOf(".", 1);
  return dot < 0 ? `${name}-${n}` : `${name.slice(0, dot)}-${n}${name.slice(dot)}`;
}

const SOURCE_FD = 0;
const FOLDER = "/proc/self/fd/3";
const STAGING = "/proc/self/fd/4";
const STAGED_NAME = "file";
const CHUNK_BYTES = 1 << 20;
const MAX_SUFFIX = 1000;

export type CourierResult = { ok: true; name: string } | { ok: false; reason: string };

/** Copies `size` bytes of the source, hashing them when asked; false when it holds fewer. */
function copy(out: number, size: number, hasher: Bun.CryptoHasher | null): boolean {
  const buffer = Buffer.alloc(Math.min(CHUNK_BYTES, Math.max(size, 1)));
  for (let at = 0; at < size;) {
    const got = readSync(SOURCE_FD, buffer, 0, Math.min(buffer.length, size - at), at);
    if (got === 0) return false;
    for (let written = 0; written < got;) written += writeSync(out, buffer, written, got - written);
    hasher?.update(buffer.subarray(0, got));
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

/** Copies (checking the SHA-256 when there is one), syncs and links under the first free name. */
function land(out: number, staged: string, name: string, size: number, sha256: string | null): string {
  const hasher = sha256 === null ? null : new Bun.CryptoHasher("sha256");
  let copied: boolean;
  try {
    copied = copy(out, size, hasher);
    fsyncSync(out);
  } finally {
    closeSync(out);
  }
  if (!copied) throw new Error("the file shrank after it was approved");
  if (hasher !== null && hasher.digest("hex") !== sha256)
    throw new Error("the file changed after it was approved (its SHA-256 differs)");
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

/** argv: the name to deliver as, the approved size, and the approved SHA-256 when the bytes are the sender's own file. */
export function deliver([name = "", sizeText = "", sha256]: string[]): CourierResult {
  const size = Number(sizeText);
  if (
    name === "" ||
    !Number.isSafeInteger(size) ||
    size < 0 ||
    (sha256 !== undefined && !/^[0-9a-f]{64}$/.test(sha256))
  )
    return { ok: false, reason: "bad courier arguments" };
  const staged = `${STAGING}/${STAGED_NAME}`;
  try {
    const out = openSync(
      staged,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      0o644,
    );
    return { ok: true, name: land(out, staged, name, size, sha256 ?? null) };
  } catch (error) {
    // bay0 drops the staging folder with whatever is left in it.
    return failure(error);
  }
}

export function runCourier(argv: string[]): void {
  process.stdout.write(`${JSON.stringify(deliver(argv))}\n`);
}
