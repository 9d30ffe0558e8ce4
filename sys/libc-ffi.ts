import { dlopen, FFIType, ptr, read, type Pointer } from "bun:ffi";
import type { Libc, SysResult } from "./libc.ts";

const P_PID = 1;
const WEXITED = 4;
const WNOHANG = 1;
const SYS_FINIT_MODULE = 313;
const SIGINFO_BYTES = 128;

const { i32, i64, u32, u64, ptr: pointer } = FFIType;

/** Opens libc through bun:ffi. Only `init/` calls this; tests use the fake. */
export function openLibc(): Libc {
  const { symbols: c } = dlopen("libc.so.6", {
    mount: { args: [pointer, pointer, pointer, u64, pointer], returns: i32 },
    umount2: { args: [pointer, i32], returns: i32 },
    reboot: { args: [i32], returns: i32 },
    sethostname: { args: [pointer, u64], returns: i32 },
    ioctl: { args: [i32, u64, pointer], returns: i32 },
    waitid: { args: [i32, i32, pointer, i32], returns: i32 },
    kill: { args: [i32, i32], returns: i32 },
    sync: { args: [], returns: FFIType.void },
    syscall: { args: [i64, i32, pointer, i32], returns: i64 },
    getpid: { args: [], returns: i32 },
    mkfifo: { args: [pointer, u32], returns: i32 },
    strerror: { args: [i32], returns: FFIType.cstring },
    __errno_location: { args: [], returns: pointer },
  });

  const cstr = (s: string): Buffer => Buffer.from(`${s}\0`, "utf8");
  const errno = (): number => read.i32(c.__errno_location() as Pointer, 0);
  const check = (rc: number | bigint): SysResult => {
    const value = Number(rc);
    if (value >= 0) return { ok: true, value };
    const e = errno();
    return { ok: false, errno: e, message: String(c.strerror(e)) };
  };
  const optional = (s: string): Buffer | null => (s === "" ? null : cstr(s));

  return {
    mount: (source, target, fstype, flags, data) =>
      check(c.mount(cstr(source), cstr(target), optional(fstype), flags, optional(data))),
    umount2: (target, flags) => check(c.umount2(cstr(target), flags)),
    reboot: (command) => check(c.reboot(command)),
    sethostname: (name) => {
      const bytes = Buffer.from(name, "utf8");
      return check(c.sethostname(bytes, BigInt(bytes.length)));
    },
    ioctlInt: (fd, request, value) => {
      const arg = new Int32Array([value]);
      const result = check(c.ioctl(fd, BigInt(request), ptr(arg)));
      return result.ok ? { ok: true, value: arg[0] ?? 0 } : result;
    },
    ioctl: (fd, request, arg) => check(c.ioctl(fd, BigInt(request), arg === 0 ? null : (arg as Pointer))),
    reapPid: (pid) => {
      const info = new Int32Array(SIGINFO_BYTES / 4);
      const result = check(c.waitid(P_PID, pid, ptr(info), WEXITED | WNOHANG));
      if (!result.ok) return result;
      // siginfo_t on Linux: si_code at byte 8, si_pid at 16, si_status at 24.
      if ((info[4] ?? 0) === 0) return { ok: true, value: 0 };
      return { ok: true, value: info[4] ?? 0, code: info[2] ?? 0, status: info[6] ?? 0 };
    },
    kill: (pid, signal) => check(c.kill(pid, signal)),
    sync: () => c.sync(),
    finitModule: (fd) => check(c.syscall(BigInt(SYS_FINIT_MODULE), fd, cstr(""), 0)),
    getpid: () => c.getpid(),
    mkfifo: (path, mode) => check(c.mkfifo(cstr(path), mode)),
  };
}
