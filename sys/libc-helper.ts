/**
 * The libc calls only helpers make (and the test hooks): bay0's own, and
 * these, kept out of the boundary PID 1 opens (sys/libc.ts): among them
 * openat2, with which helpers look into rooms' trees without following links.
 */
import { dlopen, FFIType, ptr, read, type Pointer } from "bun:ffi";
import type { Libc, SysResult } from "./libc.ts";
import { openLibc } from "./libc-ffi.ts";

export interface HelperLibc extends Libc {
  /** ioctl whose argument points to `buffer`, which the kernel may fill in. */
  ioctlBuffer(fd: number, request: number, buffer: Uint8Array): SysResult;
  mkfifo(path: string, mode: number): SysResult;
  /** SO_PEERCRED: the pid of the process that connected a Unix socket, as bay0's pid namespace sees it. */
  peerPid(fd: number): SysResult;
  /** TIOCSWINSZ: a terminal's size in cells. */
  setWindowSize(fd: number, rows: number, cols: number): SysResult;
  /** openat2(2): `path` opened below `dirFd` (AT_FDCWD for a path of the machine's) with RESOLVE_* rules; the new fd. */
  openat2(dirFd: number, path: string, flags: number, resolve: number): SysResult;
}

const SOL_SOCKET = 1;
const SO_PEERCRED = 17;
const TIOCSWINSZ = 0x5414;
const SYS_OPENAT2 = 437;
const OPEN_HOW_BYTES = 24;

export function openHelperLibc(): HelperLibc {
  const { i32, i64, u32, u64, ptr: pointer } = FFIType;
  const { symbols: c } = dlopen("libc.so.6", {
    ioctl: { args: [i32, u64, pointer], returns: i32 },
    mkfifo: { args: [pointer, u32], returns: i32 },
    getsockopt: { args: [i32, i32, i32, pointer, pointer], returns: i32 },
    syscall: { args: [i64, i32, pointer, pointer, u64], returns: i64 },
    strerror: { args: [i32], returns: FFIType.cstring },
    __errno_location: { args: [], returns: pointer },
  });
  const check = (rc: number | bigint): SysResult => {
    const value = Number(rc);
    if (value >= 0) return { ok: true, value };
    const errno = read.i32(c.__errno_location() as Pointer, 0);
    return { ok: false, errno, message: String(c.strerror(errno)) };
  };
  return {
    ...openLibc(),
    ioctlBuffer: (fd, request, buffer) => check(c.ioctl(fd, BigInt(request), ptr(buffer))),
    mkfifo: (path, mode) => check(c.mkfifo(Buffer.from(`${path}\0`, "utf8"), mode)),
    peerPid: (fd) => {
      // struct ucred: pid, uid, gid (three 32-bit ints).
      const credentials = new Int32Array(3);
      const length = new Uint32Array([credentials.byteLength]);
      const result = check(c.getsockopt(fd, SOL_SOCKET, SO_PEERCRED, ptr(credentials), ptr(length)));
      return result.ok ? { ok: true, value: credentials[0] ?? 0 } : result;
    },
    setWindowSize: (fd, rows, cols) => {
      const size = new Uint16Array([rows, cols, 0, 0]);
      return check(c.ioctl(fd, BigInt(TIOCSWINSZ), ptr(size)));
    },
    openat2: (dirFd, path, flags, resolve) => {
      // struct open_how: u64 flags, u64 mode, u64 resolve.
      const how = new BigUint64Array([BigInt(flags), 0n, BigInt(resolve)]);
      const name = Buffer.from(`${path}\0`, "utf8");
      return check(c.syscall(BigInt(SYS_OPENAT2), dirFd, name, ptr(how), BigInt(OPEN_HOW_BYTES)));
    },
  };
}
