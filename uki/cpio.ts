/**
 * A writer for the kernel's initramfs format (cpio "newc"). Entries are
 * written in sorted path order with fixed owners, inode numbers and mtimes,
 * so the same inputs always give the same bytes.
 */

export type CpioEntry =
  | { kind: "dir"; path: string; mode: number }
  | { kind: "file"; path: string; mode: number; data: Uint8Array }
  | { kind: "symlink"; path: string; target: string }
  | { kind: "char"; path: string; mode: number; major: number; minor: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

const hex8 = (n: number): string => n.toString(16).padStart(8, "0");
const pad4 = (n: number): number => (4 - (n % 4)) % 4;

function header(fields: {
  ino: number;
  mode: number;
  nlink: number;
  size: number;
  rdevMajor: number;
  rdevMinor: number;
  nameSize: number;
}): string {
  return [
    "070701",
    hex8(fields.ino),
    hex8(fields.mode),
    hex8(0), // uid
    hex8(0), // gid
    hex8(fields.nlink),
    hex8(0), // mtime: fixed for reproducible images
    hex8(fields.size),
    hex8(0), // devmajor
    hex8(0), // devminor
    hex8(fields.rdevMajor),
    hex8(fields.rdevMinor),
    hex8(fields.nameSize),
    hex8(0), // check
  ].join("");
}

const normalise = (path: string): string => path.replace(/^\/+/, "").replace(/\/+$/, "");

/** Adds the parent directories an entry list lacks (mode 0755), so the kernel can unpack it. */
export function withParents(entries: readonly CpioEntry[]): CpioEntry[] {
  const byPath = new Map<string, CpioEntry>();
  for (const entry of entries) byPath.set(normalise(entry.path), { ...entry, path: normalise(entry.path) });
  for (const path of [...byPath.keys()]) {
    const parts = path.split("/");
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join("/");
      if (!byPath.has(parent)) byPath.set(parent, { kind: "dir", path: parent, mode: 0o755 });
    }
  }
  return [...byPath.values()];
}

/** Serialises entries (parents added, sorted by path) into one newc archive. */
export function writeCpio(entries: readonly CpioEntry[]): Uint8Array {
  const sorted = withParents(entries).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const encoder = new TextEncoder();
  const chunks: Uint8Array[] = [];
  let total = 0;
  const push = (bytes: Uint8Array): void => {
    chunks.push(bytes);
    total += bytes.length;
    const padding = pad4(total);
    if (padding > 0) {
      chunks.push(new Uint8Array(padding));
      total += padding;
    }
  };
  const record = (ino: number, path: string, mode: number, data: Uint8Array, nlink: number, rdev = [0, 0]): void => {
    const name = encoder.encode(`${path}\0`);
    const head = encoder.encode(
      header({
        ino,
        mode,
        nlink,
        size: data.length,
        rdevMajor: rdev[0] ?? 0,
        rdevMinor: rdev[1] ?? 0,
        nameSize: name.length,
      }),
    );
    const headAndName = new Uint8Array(head.length + name.length);
    headAndName.set(head);
    headAndName.set(name, head.length);
    push(headAndName);
    if (data.length > 0) push(data);
  };
  sorted.forEach((entry, index) => {
    const ino = index + 1;
    switch (entry.kind) {
      case "dir":
        record(ino, entry.path, S_IFDIR | entry.mode, new Uint8Array(0), 2);
        break;
      case "file":
        record(ino, entry.path, S_IFREG | entry.mode, entry.data, 1);
        break;
      case "symlink":
        record(ino, entry.path, S_IFLNK | 0o777, encoder.encode(entry.target), 1);
        break;
      case "char":
        record(ino, entry.path, S_IFCHR | entry.mode, new Uint8Array(0), 1, [entry.major, entry.minor]);
        break;
    }
  });
  record(0, "TRAILER!!!", 0, new Uint8Array(0), 1);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/**
 * Appends an uncompressed archive of `entries` to an initramfs. The kernel
 * unpacks concatenated archives in order (later files replace earlier
 * ones); an uncompressed one must start 4-byte aligned, and NUL padding
 * between archives is skipped.
 */
export function appendArchive(initramfs: Uint8Array, entries: readonly CpioEntry[]): Buffer {
  const padding = (512 - (initramfs.length % 512)) % 512;
  return Buffer.concat([initramfs, Buffer.alloc(padding), writeCpio(entries)]);
}
