import { dlopen, FFIType, ptr, read, type Pointer } from "bun:ffi";
import type { Libc, SysResult } from "./libc.ts";

const P_PID = 1;
const WEXITED = 4;
const WNOHANG = 1;
const SIGINFO_BYTES = 128;
const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const MSG_CMSG_CLOEXEC = 0x40000000;
const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;
const MSG_DONTWAIT = 0x40;
const MSG_NOSIGNAL = 0x4000;
const F_GETFL = 3;
const F_SETFL = 4;
const O_NONBLOCK = 0o4000;
const SUN_PATH_BYTES = 108;

const { i32, i64, u32, u64, ptr: pointer } = FFIType;

/** struct msghdr (x86-64): name, namelen, iov, iovlen, control, controllen, flags; one iovec over `data`. */
function messageHeader(data: Uint8Array, control: Uint8Array): { header: BigUint64Array; iov: BigUint64Array } {
  // The iovec is returned too: the caller holds it (and so keeps it alive) until the call is made.
  const iov = new BigUint64Array([BigInt(ptr(data)), BigInt(data.length)]);
  const header = new BigUint64Array(7);
  header[2] = BigInt(ptr(iov));
  header[3] = 1n;
  header[4] = BigInt(ptr(control));
  header[5] = BigInt(control.length);
  return { header, iov };
}

/** Opens libc through bun:ffi (bay0 and its helpers; helpers needing more take `openHelperLibc`); tests use the fake. */
export function openLibc(): Libc {
  const { symbols: c } = dlopen("libc.so.6", {
    mount: { args: [pointer, pointer, pointer, u64, pointer], returns: i32 },
    umount2: { args: [pointer, i32], returns: i32 },
    reboot: { args: [i32], returns: i32 },
    ioctl: { args: [i32, u64, pointer], returns: i32 },
    waitid: { args: [i32, i32, pointer, i32], returns: i32 },
    kill: { args: [i32, i32], returns: i32 },
    sync: { args: [], returns: FFIType.void },
    getpid: { args: [], returns: i32 },
    socket: { args: [i32, i32, i32], returns: i32 },
    bind: { args: [i32, pointer, u32], returns: i32 },
    listen: { args: [i32, i32], returns: i32 },
    accept4: { args: [i32, pointer, pointer, i32], returns: i32 },
    recvmsg: { args: [i32, pointer, i32], returns: i64 },
    sendmsg: { args: [i32, pointer, i32], returns: i64 },
    socketpair: { args: [i32, i32, i32, pointer], returns: i32 },
    fcntl: { args: [i32, i32, i32], returns: i32 },
    close: { args: [i32], returns: i32 },
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
    getpid: () => c.getpid(),
    listenUnix: (path) => {
      const name = Buffer.from(path, "utf8");
      if (name.length >= SUN_PATH_BYTES) return { ok: false, errno: 36, message: `socket path too long: ${path}` };
      const fd = c.socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) return check(fd);
      // struct sockaddr_un: sa_family_t (u16), then the NUL-terminated path.
      const address = Buffer.alloc(2 + SUN_PATH_BYTES);
      address.writeUInt16LE(AF_UNIX, 0);
      name.copy(address, 2);
      const bound = check(c.bind(fd, address, address.length));
      const listening = bound.ok ? check(c.listen(fd, 1)) : bound;
      if (!listening.ok) {
        c.close(fd);
        return listening;
      }
      return { ok: true, value: fd };
    },
    accept: (fd) => check(c.accept4(fd, null, null, SOCK_NONBLOCK | SOCK_CLOEXEC)),
    receiveFd: (fd) => {
      const data = new Uint8Array(256);
      const control = new Uint8Array(24); // CMSG_SPACE(sizeof(int))
      const { header, iov } = messageHeader(data, control);
      const received = check(c.recvmsg(fd, ptr(header), MSG_CMSG_CLOEXEC | MSG_DONTWAIT));
      iov.fill(0n);
      if (!received.ok) return received;
      // struct cmsghdr: u64 len, i32 level, i32 type, then the int.
      const view = new DataView(control.buffer);
      if (view.getInt32(8, true) !== SOL_SOCKET || view.getInt32(12, true) !== SCM_RIGHTS) {
        return { ok: false, errno: 71, message: "no file descriptor in the message" };
      }
      return { ok: true, value: view.getInt32(16, true) };
    },
    socketPair: () => {
      const fds = new Int32Array(2);
      const made = check(c.socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, ptr(fds)));
      return made.ok ? { ok: true, fds: [fds[0] ?? -1, fds[1] ?? -1] } : made;
    },
    sendFd: (socket, fd) => {
      const control = new Uint8Array(24);
      const view = new DataView(control.buffer);
      view.setBigUint64(0, 20n, true); // CMSG_LEN(sizeof(int))
      view.setInt32(8, SOL_SOCKET, true);
      view.setInt32(12, SCM_RIGHTS, true);
      view.setInt32(16, fd, true);
      const { header, iov } = messageHeader(new Uint8Array(1), control);
      const sent = check(c.sendmsg(socket, ptr(header), MSG_DONTWAIT | MSG_NOSIGNAL));
      iov.fill(0n);
      return sent;
    },
    setNonBlocking: (fd) => {
      const flags = c.fcntl(fd, F_GETFL, 0);
      return flags < 0 ? check(flags) : check(c.fcntl(fd, F_SETFL, flags | O_NONBLOCK));
    },
    close: (fd) => check(c.close(fd)),
  };
}
