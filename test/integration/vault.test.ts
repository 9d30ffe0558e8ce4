import { beforeAll, describe, expect, it } from "vitest";
import { BOOT_TIMEOUT_MS, useProbeVm } from "./helpers.ts";

/** The vault's toolchain on Anchor OS: one direct boot with swtpm; the tools are the system image's. */
describe("the vault's tools", () => {
  const booted = useProbeVm("vault-tools", "vault-tools.sh", { tpm: true, memoryMb: 1024 });
  let output: string[] = [];
  beforeAll(
    async () => {
      await booted.vm.waitFor("run.exited", BOOT_TIMEOUT_MS * 2);
      output = booted.vm.runOutput();
    },
    BOOT_TIMEOUT_MS * 2 + 10_000,
  );

  it("come from the system image, which the command line pins", () => {
    expect(output.find((l) => l.startsWith("tools="))).toMatch(/^tools=cryptsetup 2\.6\.\d/);
  });

  it("see the TPM, and seal a LUKS2 key to it with a PIN that opens the volume; a wrong PIN does not", () => {
    expect(output.some((l) => l.startsWith("tpm-list ") && l.includes("/dev/tpmrm0"))).toBe(true);
    expect(output).toContain("format=0");
    expect(output).toContain("token=systemd-tpm2");
    expect(output).toContain("pin-open=yes");
    expect(output).toContain("mkfs=ok");
    expect(output).toContain("wrong-pin-open=no");
    expect(output).toContain("locked-out-right-pin-open=no");
    expect(output).toContain("passphrase-open=yes");
    expect(output).toContain("probe-done");
  });
});
