import type { SysResult } from "./libc.ts";
import type { HelperLibc } from "./libc-helper.ts";

export type LibcCall = { fn: keyof HelperLibc; args: unknown[] };

/**
 * A recording Libc for tests: every call is kept in `calls`, and `failures`
 * makes chosen calls fail with an errno. Reaped children come from `zombies`.
 */
export class FakeLibc implements HelperLibc {
  readonly calls: LibcCall[] = [];
  readonly failures = new Map<string, number>();
  readonly zombies = new Map<number, { code: number; status: number }>();
  pid = 1;

  private record(fn: keyof HelperLibc, args: unknown[], key = String(fn)): SysResult {
    this.calls.push({ fn, args });
    const errno = this.failures.get(key) ?? this.failures.get(String(fn));
    return errno === undefined ? { ok: true, value: 0 } : { ok: false, errno, message: `fake errno ${errno}` };
  }

  mount(source: string, target: string, fstype: string, flags: bigint, data: string): SysResult {
    return this.record("mount", [source, target, fstype, flags, data], `mount:${target}`);
  }
  umount2(target: string, flags: number): SysResult {
    return this.record("umount2", [target, flags], `umount2:${target}`);
  }
  reboot(command: number): SysResult {
    return this.record("reboot", [command]);
  }
  ioctlInt(fd: number, request: number, value: number): SysResult {
    const result = this.record("ioctlInt", [fd, request, value]);
    return result.ok ? { ok: true, value } : result;
  }
  ioctlBuffer(fd: number, request: number, buffer: Uint8Array): SysResult {
    return this.record("ioctlBuffer", [fd, request, buffer.length]);
  }
  ioctl(fd: number, request: number, arg: number): SysResult {
    return this.record("ioctl", [fd, request, arg]);
  }
  reapPid(pid: number): SysResult & { status?: number; code?: number } {
    const result = this.record("reapPid", [pid]);
    const zombie = this.zombies.get(pid);
    if (!result.ok || zombie === undefined) return result.ok ? { ok: true, value: 0 } : result;
    this.zombies.delete(pid);
    return { ok: true, value: pid, ...zombie };
  }
  kill(pid: number, signal: number): SysResult {
    return this.record("kill", [pid, signal]);
  }
  sync(): void {
    this.record("sync", []);
  }
  mkfifo(path: string, mode: number): SysResult {
    return this.record("mkfifo", [path, mode]);
  }
  getpid(): number {
    this.calls.push({ fn: "getpid", args: [] });
    return this.pid;
  }
  listenUnix(path: string): SysResult {
    return this.record("listenUnix", [path]);
  }
  accept(fd: number): SysResult {
    return this.record("accept", [fd]);
  }
  receiveFd(fd: number): SysResult {
    return this.record("receiveFd", [fd]);
  }
  socketPair(): { ok: true; fds: [number, number] } {
    this.record("socketPair", []);
    return { ok: true, fds: [90, 91] };
  }
  sendFd(socket: number, fd: number): SysResult {
    return this.record("sendFd", [socket, fd]);
  }
  peerPid(fd: number): SysResult {
    return this.record("peerPid", [fd]);
  }
  setNonBlocking(fd: number): SysResult {
    return this.record("setNonBlocking", [fd]);
  }
  setWindowSize(fd: number, rows: number, cols: number): SysResult {
    return this.record("setWindowSize", [fd, rows, cols]);
  }
  close(fd: number): SysResult {
    return this.record("close", [fd]);
  }
  openat2(dirFd: number, path: string, flags: number, resolve: number): SysResult {
    return this.record("openat2", [dirFd, path, flags, resolve]);
  }
}
