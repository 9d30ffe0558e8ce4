/** What bay0 can see of the running kernel's hardening (logged as `kernel.hardening`). */
export type Hardening = {
  /** "impossible": built without module support; "disabled": kernel.modules_disabled=1. */
  modules: "impossible" | "disabled" | "allowed";
  lockdown: "none" | "integrity" | "confidentiality" | "unavailable";
  lsm: string[];
  kexec: "impossible" | "disabled" | "allowed";
  dev_mem: boolean;
  kcore: boolean;
  kptr_restrict: number | null;
  dmesg_restrict: number | null;
  perf_event_paranoid: number | null;
  unprivileged_bpf_disabled: number | null;
  ptrace_scope: number | null;
};

export type ReadOnlyFs = { read: (path: string) => string | null; exists: (path: string) => boolean };

const number = (text: string | null): number | null => {
  const value = text === null ? Number.NaN : Number.parseInt(text.trim(), 10);
  return Number.isNaN(value) ? null : value;
};

/** The selected lockdown mode is the bracketed word: "none integrity [confidentiality]". */
export function parseLockdown(text: string | null): Hardening["lockdown"] {
  const mode = text === null ? undefined : /\[(\w+)\]/.exec(text)?.[1];
  return mode === "none" || mode === "integrity" || mode === "confidentiality" ? mode : "unavailable";
}

/** Reads the kernel's hardening state from /proc and /sys (securityfs must be mounted). */
export function assessHardening(fs: ReadOnlyFs): Hardening {
  const sysctl = (name: string): string | null => fs.read(`/proc/sys/${name}`);
  const modulesDisabled = sysctl("kernel/modules_disabled");
  const kexecDisabled = sysctl("kernel/kexec_load_disabled");
  return {
    modules: !fs.exists("/proc/modules") ? "impossible" : modulesDisabled?.trim() === "1" ? "disabled" : "allowed",
    lockdown: parseLockdown(fs.read("/sys/kernel/security/lockdown")),
    lsm: (fs.read("/sys/kernel/security/lsm") ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== ""),
    kexec: kexecDisabled === null ? "impossible" : kexecDisabled.trim() === "1" ? "disabled" : "allowed",
    dev_mem: fs.exists("/dev/mem"),
    kcore: fs.exists("/proc/kcore"),
    kptr_restrict: number(sysctl("kernel/kptr_restrict")),
    dmesg_restrict: number(sysctl("kernel/dmesg_restrict")),
    perf_event_paranoid: number(sysctl("kernel/perf_event_paranoid")),
    unprivileged_bpf_disabled: number(sysctl("kernel/unprivileged_bpf_disabled")),
    ptrace_scope: number(sysctl("kernel/yama/ptrace_scope")),
  };
}
