/**
 * The one typed boundary between bay0 and the kernel's libc calls.
 * `libc-ffi.ts` implements it with bun:ffi; `libc-fake.ts` records calls for
 * tests. Everything above `sys/` receives a `Libc` and never calls the kernel
 * directly. The calls only helpers make are `HelperLibc`'s (`libc-helper.ts`).
 */

/** Result of a libc call: 0 (or a value) on success, or the errno. */
export type SysResult = { ok: true; value: number } | { ok: false; errno: number; message: string };

export interface Libc {
  mount(source: string, target: string, fstype: string, flags: bigint, data: string): SysResult;
  umount2(target: string, flags: number): SysResult;
  reboot(command: number): SysResult;
  /** ioctl whose argument is a pointer to one int, read back after the call. */
  ioctlInt(fd: number, request: number, value: number): SysResult;
  /** ioctl with no argument or an integer argument passed by value. */
  ioctl(fd: number, request: number, arg: number): SysResult;
  /** waitid(P_PID, pid, …, WEXITED | WNOHANG): the raw status (0 when none). */
  reapPid(pid: number): SysResult & { status?: number; code?: number };
  kill(pid: number, signal: number): SysResult;
  sync(): void;
  getpid(): number;
  /** A non-blocking Unix stream socket listening at `path`: its fd. */
  listenUnix(path: string): SysResult;
  /** accept(2) on a non-blocking listener: the connection's fd, or EAGAIN when nobody connected yet. */
  accept(fd: number): SysResult;
  /** One file descriptor sent over a Unix socket (SCM_RIGHTS): the new fd, or EAGAIN when none arrived yet. */
  receiveFd(fd: number): SysResult;
  /** A connected pair of non-blocking Unix stream sockets (bay0's private channel to a helper). */
  socketPair(): { ok: true; fds: [number, number] } | { ok: false; errno: number; message: string };
  /** Sends `fd` over a Unix socket (SCM_RIGHTS) without waiting: EAGAIN when the peer's queue is full. */
  sendFd(socket: number, fd: number): SysResult;
  setNonBlocking(fd: number): SysResult;
  close(fd: number): SysResult;
}

export const EAGAIN = 11;

export const MS = {
  RDONLY: 1n,
  NOSUID: 2n,
  NODEV: 4n,
  NOEXEC: 8n,
  NOATIME: 1024n,
  BIND: 4096n,
} as const;

export const MNT_DETACH = 2;

export const RB = {
  AUTOBOOT: 0x01234567,
  POWER_OFF: 0x4321fedc,
} as const;

export const SIG = { SIGKILL: 9, SIGTERM: 15, SIGCONT: 18 } as const;

/** linux/watchdog.h */
export const WDIOC = { KEEPALIVE: 0x80045705, SETTIMEOUT: 0xc0045706 } as const;

/** siginfo si_code values for CLD_* (what ended a reaped child). */
export const CLD = { EXITED: 1, KILLED: 2, DUMPED: 3 } as const;
