import { spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { parseGpt, PARTITION } from "../../rooms/boot-disk.ts";
import { BASE_CMDLINE } from "../../uki/cmdline.ts";
import { buildDiskImage, slotManifest } from "../../uki/disk.ts";
import { osRelease } from "../../uki/initramfs.ts";
import { pcrSigningKey, sign, signingKey } from "../../uki/sign.ts";
import { assembleUki } from "../../uki/uki.ts";
import { testOverlay } from "../qemu/overlay.ts";
import { builtImages, probeImage } from "../qemu/probe-image.ts";
import { OUT, ROOT, Vm, withOverlay } from "../qemu/vm.ts";
import { screenReader } from "./helpers.ts";

/** Firmware, stub, bay0 and the vault's argon2id under TCG. */
const UEFI_BOOT_MS = 240_000;
const VAULT_MS = 300_000;
const PIN = "kestrel42";
const WRONG_PIN = "harrier17";

/**
 * The vault on the real boot path: a UKI signed like out/anchor.efi but
 * carrying the test build of bay0, the test policies and the test port, on a
 * 1 GiB Anchor disk, under OVMF with Secure Boot and a swtpm whose state,
 * like the disk, survives from one boot to the next. The PIN is typed with
 * QMP keys at the trusted prompt.
 */
describe("the vault across boots", () => {
  const scratch = mkdtempSync(join(tmpdir(), "anchor-vault-"));
  const disk = join(scratch, "disk.img");
  const tpmState = join(scratch, "tpm");
  beforeAll(() => {
    const images = [...builtImages(), probeImage()];
    const pin = { kind: "file" as const, path: "etc/anchor/images.json", mode: 0o644, data: Buffer.from(JSON.stringify(slotManifest(images))) };
    const initramfs = withOverlay(join(OUT, "initramfs.img"), [...testOverlay({ roomPolicies: true }), pin], join(scratch, "initramfs.img"));
    const version = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
    const unsigned = join(scratch, "unsigned.efi");
    const cmdline = [...BASE_CMDLINE, "anchor.run=/test/forward.sh"].join(" ");
    assembleUki({ vmlinuz: join(OUT, "vmlinuz"), initramfs, cmdline, osRelease: osRelease(version), version, pcrKey: pcrSigningKey(null, scratch) }, unsigned);
    sign(unsigned, join(scratch, "test.efi"), signingKey(null, scratch));
    buildDiskImage({ output: disk, uki: join(scratch, "test.efi"), images, seed: "vault-test" });
    truncateSync(disk, 1024 * 1024 * 1024);
  }, 120_000);
  let vm: Vm | null = null;
  /** The recovery key, as read off the screen at the first boot. */
  let recoveryKey = "";
  const screen = screenReader(() => {
    if (vm === null) throw new Error("no VM");
    return vm;
  }, "vault");
  const boot = async (name: string): Promise<Vm> => {
    vm = await Vm.boot({ name, uefiDisk: disk, persistDisk: true, tpmState, usbKeyboard: true, memoryMb: 2048, noReboot: true, testPort: true });
    await vm.waitFor("run.output", UEFI_BOOT_MS, (r) => String(r.line).startsWith("forwarding"));
    return vm;
  };
  const type = async (text: string): Promise<void> => {
    for (const ch of text) await vm?.sendKeys([ch === "-" ? "minus" : ch]);
    await vm?.sendKeys(["ret"]);
  };
  /** Boots, types the wrong PIN at the unlock prompt, and checks that the TPM's count of tries left is shown. */
  const bootToWrongPin = async (name: string, triesLeft: number): Promise<Vm> => {
    const booted = await boot(name);
    await screen.wait(/Vault: unlock/, UEFI_BOOT_MS);
    await type(WRONG_PIN);
    expect(await booted.waitFor("vault.unlock_failed", VAULT_MS)).toMatchObject({ reason: "pin", tries_left: triesLeft });
    await screen.wait(new RegExp(`Vault: wrong PIN, ${triesLeft} tries left`));
    return booted;
  };
  /** Starts a test room and returns its output once it is done. */
  const run = async (room: string): Promise<string[]> => {
    const current = vm;
    if (current === null) throw new Error("no VM");
    expect((await current.control(`start ${room}`, 60_000)).ok).toBe(true);
    await current.waitFor("room.output", 60_000, (r) => r.room === room && r.line === "vault-room-done");
    return current.records.filter((r) => r.event === "room.output" && r.room === room).map((r) => String(r.line));
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

  it("first boot: asks for a new PIN twice, grows the partition, seals LUKS2 to the TPM with it, shows the recovery key once, mounts /persist; a room writes into its folder", async () => {
    const first = await boot("vault-first");
    expect(await first.waitFor("vault.absent", UEFI_BOOT_MS)).toMatchObject({ reason: "not provisioned yet" });
    // A room that needs the vault is refused, with the reason, until it exists; it never gets an empty stand-in.
    const refused = await first.control("start vault-docs", 60_000);
    expect(refused).toMatchObject({ ok: false });
    expect(String(refused.reason)).toMatch(/vault-docs needs the vault, which is not set up: unlock it at the console first/);
    await screen.wait(/Vault: choose a PIN/, 60_000);
    await type(PIN);
    await screen.wait(/Vault: the same PIN again/);
    await type(PIN);
    expect(await first.waitFor("vault.provisioned", VAULT_MS)).toMatchObject({ binding: "pcr7+signed-pcr11" });
    const shown = await screen.wait(/Vault: your recovery key/, 60_000);
    const key = shown.join("\n").match(/[a-z]{8}(-[a-z]{8}){3}/g) ?? [];
    expect(key).toHaveLength(2);
    recoveryKey = key.join("-");
    await first.sendKeys(["ret"]);
    expect(await first.waitFor("vault.unlocked", 60_000)).toMatchObject({ how: "provisioned", mount: "/persist" });
    const docs = await run("vault-docs");
    expect(docs).toEqual(expect.arrayContaining(["vault=present contents=", "scratch=gone", "vault-write=ok owner=user"]));
    expect(await run("vault-none")).toContain("vault=absent");
    // Neither the PIN nor the recovery key ever reached the serial console.
    expect(first.lines.some((l) => l.includes(PIN) || key.some((part) => l.includes(part)))).toBe(false);
    await powerOff();
  }, UEFI_BOOT_MS + 2 * VAULT_MS);

  it("next boot: a wrong PIN is refused and says how many tries the TPM leaves; the right one opens it, and the room's file is there", async () => {
    const second = await bootToWrongPin("vault-second", 2);
    await type(PIN);
    expect(await second.waitFor("vault.unlocked", VAULT_MS)).toMatchObject({ how: "pin", mount: "/persist" });
    // Only what was saved into the vault survived the reboot; another room's folder is out of reach.
    const docs = await run("vault-docs");
    expect(docs).toContain("vault=present contents=note-vault-docs.txt ");
    expect(docs).toContain("scratch=gone");
    expect(await run("vault-other")).toContain("vault=present contents=");
    expect(second.lines.some((l) => l.includes(PIN) || l.includes(WRONG_PIN))).toBe(false);
    await powerOff();
  }, UEFI_BOOT_MS + 2 * VAULT_MS);

  it("wrong PINs up to the TPM's lockout: it says so and takes the recovery key, which opens the vault (the token stays: a locked-out TPM seals nothing)", async () => {
    const third = await bootToWrongPin("vault-third", 1);
    await type(WRONG_PIN);
    const locked = await third.waitFor("vault.unlock_failed", VAULT_MS, (r) => r.reason === "lockout");
    expect(locked).toMatchObject({ tries_left: 0 });
    await screen.wait(/Vault: the TPM is locked out after too many wrong PINs/);
    await type(recoveryKey);
    expect(await third.waitFor("vault.recovery_used", VAULT_MS)).toMatchObject({ reason: "lockout" });
    expect(await third.waitFor("vault.unlocked", VAULT_MS)).toMatchObject({ how: "recovery", mount: "/persist" });
    expect(await run("vault-docs")).toContain("vault=present contents=note-vault-docs.txt ");
    expect(third.records.some((r) => r.event === "vault.resealed")).toBe(false);
    expect(third.lines.some((l) => l.includes(recoveryKey.slice(0, 17)) || l.includes(WRONG_PIN))).toBe(false);
    await powerOff();
  }, UEFI_BOOT_MS + 3 * VAULT_MS);

  it("is a plain LUKS2 volume: on the host, cryptsetup alone accepts the recovery key for the disk's vault partition", () => {
    const fd = openSync(disk, "r");
    try {
      const head = Buffer.alloc(1024 * 1024);
      readSync(fd, head, 0, head.length, 0);
      const table = parseGpt(head, 512);
      if (!table.ok) throw new Error(table.error);
      const vault = table.partitions.find((p) => p.label === PARTITION.vault.label);
      if (vault === undefined) throw new Error("no vault partition");
      // Grown at the first boot: from its place to the end of the 1 GiB disk, less the backup GPT.
      expect(Number(vault.lastLba) * 512).toBeGreaterThan(1000 * 1024 * 1024);
      // The LUKS2 header and keyslots lie in the partition's first 16 MiB; cryptsetup checks a key against them alone.
      const header = Buffer.alloc(16 * 1024 * 1024);
      readSync(fd, header, 0, header.length, Number(vault.firstLba) * 512);
      const file = join(scratch, "vault-header.img");
      writeFileSync(file, header);
      const open = (key: string) => spawnSync("cryptsetup", ["open", "--test-passphrase", "--key-file=-", file], { input: key, encoding: "utf8" });
      expect(open(recoveryKey).status, open(recoveryKey).stderr).toBe(0);
      expect(open(WRONG_PIN).status).not.toBe(0);
      const dump = spawnSync("cryptsetup", ["luksDump", file], { encoding: "utf8" });
      expect(dump.stdout).toMatch(/Version:\s+2/);
      expect(dump.stdout).toMatch(/Label:\s+anchor-vault\n/);
      expect(dump.stdout).toContain("systemd-tpm2");
      expect(dump.stdout).toContain("systemd-recovery");
      // Two keyslots: the TPM's and the recovery key's; the random passphrase of provisioning is gone.
      const keyslots = dump.stdout.slice(dump.stdout.indexOf("Keyslots:"), dump.stdout.indexOf("Tokens:"));
      expect(keyslots.match(/^\s+\d+: luks2$/gm)).toHaveLength(2);
    } finally {
      closeSync(fd);
    }
  });
});
