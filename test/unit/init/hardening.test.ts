import { describe, expect, it } from "vitest";
import { assessHardening, parseLockdown, type ReadOnlyFs } from "../../../init/hardening.ts";
import { readPcrs } from "../../../init/tpm.ts";

const fakeFs = (files: Record<string, string>): ReadOnlyFs => ({
  read: (path) => files[path] ?? null,
  exists: (path) => path in files || Object.keys(files).some((f) => f.startsWith(`${path}/`)),
});

describe("parseLockdown", () => {
  it("reads the bracketed mode", () => {
    expect(parseLockdown("none integrity [confidentiality]\n")).toBe("confidentiality");
    expect(parseLockdown("[none] integrity confidentiality")).toBe("none");
    expect(parseLockdown(null)).toBe("unavailable");
  });
});

describe("assessHardening", () => {
  it("reports a monolithic, locked-down kernel", () => {
    const hardening = assessHardening(
      fakeFs({
        "/sys/kernel/security/lockdown": "none integrity [confidentiality]\n",
        "/sys/kernel/security/lsm": "capability,lockdown,yama",
        "/proc/sys/kernel/kptr_restrict": "1\n",
        "/proc/sys/kernel/dmesg_restrict": "1\n",
        "/proc/sys/kernel/perf_event_paranoid": "3\n",
        "/proc/sys/kernel/unprivileged_bpf_disabled": "2\n",
        "/proc/sys/kernel/yama/ptrace_scope": "1\n",
      }),
    );
    expect(hardening).toEqual({
      modules: "impossible",
      lockdown: "confidentiality",
      lsm: ["capability", "lockdown", "yama"],
      kexec: "impossible",
      dev_mem: false,
      kcore: false,
      kptr_restrict: 1,
      dmesg_restrict: 1,
      perf_event_paranoid: 3,
      unprivileged_bpf_disabled: 2,
      ptrace_scope: 1,
    });
  });

  it("reports a stock kernel with modules locked after boot", () => {
    const hardening = assessHardening(
      fakeFs({
        "/proc/modules": "",
        "/proc/sys/kernel/modules_disabled": "1\n",
        "/proc/sys/kernel/kexec_load_disabled": "0\n",
        "/dev/mem": "",
      }),
    );
    expect(hardening).toMatchObject({
      modules: "disabled",
      kexec: "allowed",
      dev_mem: true,
      lockdown: "unavailable",
      ptrace_scope: null,
    });
  });
});

describe("readPcrs", () => {
  it("reads PCRs 7 and 11 from the sha256 bank, lower-cased", () => {
    const fs = fakeFs({ "/sys/class/tpm/tpm0/pcr-sha256/7": "AB12\n", "/sys/class/tpm/tpm0/pcr-sha256/11": "CD34\n" });
    expect(readPcrs(fs)).toEqual({ device: "/dev/tpm0", bank: "sha256", pcrs: { "7": "ab12", "11": "cd34" } });
  });
  it("is null without a TPM", () => {
    expect(readPcrs(fakeFs({}))).toBeNull();
  });
});
