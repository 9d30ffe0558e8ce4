import { copyFileSync, mkdtempSync, rmSync, truncateSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { OUT, Vm } from "../qemu/vm.ts";
import { screenReader } from "./helpers.ts";

/** Firmware, stub, bay0 and the vault's argon2id under TCG. */
const UEFI_BOOT_MS = 240_000;
const VAULT_MS = 300_000;
const PIN = "246813";

/**
 * The vault on the real boot path: out/anchor.img on a larger disk under OVMF
 * with Secure Boot and a swtpm whose state, like the disk, survives from one
 * boot to the next. The PIN is typed with QMP keys at the trusted prompt.
 */
describe("the vault across boots", () => {
  const scratch = mkdtempSync(join(tmpdir(), "anchor-vault-"));
  const disk = join(scratch, "disk.img");
  const tpmState = join(scratch, "tpm");
  copyFileSync(join(OUT, "anchor.img"), disk);
  truncateSync(disk, 1024 * 1024 * 1024);
  let vm: Vm | null = null;
  const screen = screenReader(() => {
    if (vm === null) throw new Error("no VM");
    return vm;
  }, "vault");
  const boot = async (name: string): Promise<Vm> => {
    vm = await Vm.boot({ name, uefiDisk: disk, persistDisk: true, tpmState, usbKeyboard: true, memoryMb: 2048, noReboot: true });
    return vm;
  };
  const type = async (text: string): Promise<void> => {
    for (const ch of text) await vm?.sendKeys([ch]);
    await vm?.sendKeys(["ret"]);
  };
  /** A clean power-off: the kernel sends TPM2_Shutdown, so the TPM counts no failure for a lost power. */
  const powerOff = async (): Promise<void> => {
    await vm?.powerdown();
    await vm?.waitForExit(120_000);
    await vm?.stop();
    vm = null;
  };
  afterEach(async () => {
    await vm?.stop();
    vm = null;
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it("first boot: asks for a new PIN twice, grows the partition, seals LUKS2 to the TPM with it, shows the recovery key once, mounts /persist", async () => {
    const first = await boot("vault-first");
    expect(await first.waitFor("vault.absent", UEFI_BOOT_MS)).toMatchObject({ reason: "not provisioned yet" });
    await screen.wait(/Vault: choose a PIN/, 60_000);
    await type(PIN);
    await screen.wait(/Vault: the same PIN again/);
    await type(PIN);
    expect(await first.waitFor("vault.provisioned", VAULT_MS)).toMatchObject({ binding: "pcr7+signed-pcr11" });
    const shown = await screen.wait(/Vault: your recovery key/, 60_000);
    const key = shown.join("\n").match(/[a-z]{8}(-[a-z]{8}){3}/g) ?? [];
    expect(key).toHaveLength(2);
    await first.sendKeys(["ret"]);
    expect(await first.waitFor("vault.unlocked", 60_000)).toMatchObject({ how: "provisioned", mount: "/persist" });
    // Neither the PIN nor the recovery key ever reached the serial console.
    expect(first.lines.some((l) => l.includes(PIN) || key.some((part) => l.includes(part)))).toBe(false);
    await powerOff();
  }, UEFI_BOOT_MS + 2 * VAULT_MS);

  it("next boot: a wrong PIN is refused and says how many tries the TPM leaves; the right one opens it", async () => {
    const second = await boot("vault-second");
    await screen.wait(/Vault: unlock/, UEFI_BOOT_MS);
    await type("999999");
    expect(await second.waitFor("vault.unlock_failed", VAULT_MS)).toMatchObject({ reason: "pin", tries_left: 2 });
    await screen.wait(/Vault: wrong PIN, 2 tries left/);
    await type(PIN);
    expect(await second.waitFor("vault.unlocked", VAULT_MS)).toMatchObject({ how: "pin", mount: "/persist" });
    expect(second.lines.some((l) => l.includes(PIN) || l.includes("999999"))).toBe(false);
    await powerOff();
  }, UEFI_BOOT_MS + 2 * VAULT_MS);
});
