import type { Log } from "../sys/log.ts";

/**
 * Kernel settings bay0 makes at boot: what systemd's sysctl.d defaults set
 * for safety (the fs.protected_* family), plus the Kernel Self-Protection
 * Project's run-time recommendations. Each is global or set before any room
 * exists; rooms see /proc/sys read-only and cannot undo them.
 */
export const HARDENING_SYSCTLS: Readonly<Record<string, string>> = Object.freeze({
  // No hard links to files one cannot write, no following others' symlinks in sticky dirs (systemd).
  "fs/protected_hardlinks": "1",
  "fs/protected_symlinks": "1",
  // No O_CREAT opens of others' FIFOs and regular files in world-writable sticky dirs (systemd).
  "fs/protected_fifos": "1",
  "fs/protected_regular": "1",
  // No core dumps of set-uid or privilege-changed processes.
  "fs/suid_dumpable": "0",
  // Kernel pointers hidden from everyone, the kernel log from unprivileged readers.
  "kernel/kptr_restrict": "2",
  "kernel/dmesg_restrict": "1",
  // No magic SysRq: the trusted console owns the keyboard.
  "kernel/sysrq": "0",
  // No kexec even for root, until the next boot.
  "kernel/kexec_load_disabled": "1",
  // eBPF and perf for root only, BPF JIT hardened; no unprivileged userfaultfd.
  "kernel/unprivileged_bpf_disabled": "1",
  "net/core/bpf_jit_harden": "2",
  "kernel/perf_event_paranoid": "3",
  "vm/unprivileged_userfaultfd": "0",
  // ptrace only for processes with CAP_SYS_PTRACE (Yama), and no line disciplines loaded on demand.
  "kernel/yama/ptrace_scope": "2",
  "dev/tty/ldisc_autoload": "0",
  // Nothing mapped at the lowest 64 KiB: NULL-pointer bugs stay crashes.
  "vm/mmap_min_addr": "65536",
});

/** Writes a /proc/sys file; throws with an errno code. */
export type SysctlWriter = (path: string, value: string) => void;

/**
 * Applies HARDENING_SYSCTLS and logs `sysctl.hardened`: what was set, what
 * this kernel does not have (not built: nothing to harden), and what failed.
 */
export function hardenSysctls(write: SysctlWriter, log: Log): void {
  const set: string[] = [];
  const absent: string[] = [];
  const failed: { sysctl: string; error: string }[] = [];
  for (const [key, value] of Object.entries(HARDENING_SYSCTLS)) {
    const name = key.replaceAll("/", ".");
    try {
      write(`/proc/sys/${key}`, value);
      set.push(name);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") absent.push(name);
      else failed.push({ sysctl: name, error: error instanceof Error ? error.message : String(error) });
    }
  }
  if (failed.length > 0) log.error("sysctl.hardened", { set, absent, failed });
  else log.info("sysctl.hardened", { set, absent, failed });
}
