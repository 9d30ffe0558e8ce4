import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { CLOSING_EVENT } from "../../audit/chain.ts";
import { verifyAudit } from "../../audit/verify.ts";
import { packageVersion } from "../../uki/version.ts";
import { pcrSigningKey } from "../../uki/sign.ts";
import {
  openVaultOnHost,
  vaultHeader,
  vaultPartition,
  vaultTestDisk,
  putOnEsp,
  vaultTestUki,
} from "../qemu/vault-disk.ts";
import { ROOT, Vm } from "../qemu/vm.ts";
import { chooseChoice, promptArmed, typeSecret } from "../qemu/keyboard.ts";
import { screenReader } from "../qemu/screen.ts";

/** Firmware, stub, bay0 and the vault's argon2id under TCG. */
const UEFI_BOOT_MS = 240_000;
const VAULT_MS = 300_000;
const PIN = "kestrel42";
const WRONG_PIN = "harrier17";
/** The PIN sealed anew after the recovery key opened a vault the TPM refused. */
const NEW_PIN = "osprey993";
const BIG_BYTES = 256 * 1024 * 1024;

describe("the vault across boots", () => {
  const scratch = mkdtempSync(join(tmpdir(), "anchor-vault-"));
  const disk = join(scratch, "disk.img");
  const tpmState = join(scratch, "tpm");
  /** UKIs signed with the same Secure Boot key: the first, an update with another command line, and one whose PCR policy another key signed. */
  const ukis = {
    first: join(scratch, "first.efi"),
    update: join(scratch, "update.efi"),
    otherKey: join(scratch, "other-key.efi"),
  };
  beforeAll(() => {
    const otherPcrKey = spawnSync("openssl", ["genrsa", "2048"], { encoding: "utf8" }).stdout;
    vaultTestUki(scratch, ukis.first, [], pcrSigningKey(null, scratch));
    vaultTestUki(scratch, ukis.update, ["anchor.watchdog_sec=29"], pcrSigningKey(null, scratch));
    vaultTestUki(scratch, ukis.otherKey, [], otherPcrKey);
    vaultTestDisk(disk, ukis.first);
  }, 180_000);
  /** Puts `uki` on the disk's ESP in place of the one systemd-boot starts, as an update of the same version would. */
  const install = (uki: string): void => putOnEsp(disk, uki, `EFI/Linux/anchor_${packageVersion()}.efi`);
  let vm: Vm | null = null;
  /** The recovery key, as read off the screen at the first boot, and once replaced from the dashboard, the new one. */
  let recoveryKey = "";
  /** The first boot's recovery key, once a new one replaced it. */
  let oldRecoveryKey = "";
  /** The audit files the lockout boot cut short and deleted (the other deleted one is its own). */
  let tampered = { cut: "", deleted: "", own: "" };
  const screen = screenReader(() => {
    if (vm === null) throw new Error("no VM");
    return vm;
  }, "vault");
  const current = (): Vm => {
    if (vm === null) throw new Error("no VM");
    return vm;
  };
  const boot = async (name: string): Promise<Vm> => {
    vm = await Vm.boot({
      name,
      uefiDisk: disk,
      persistDisk: true,
      tpmState,
      usbKeyboard: true,
      memoryMb: 2048,
      noReboot: true,
      testPort: true,
    });
    await vm.waitFor("run.output", UEFI_BOOT_MS, (r) => String(r.line).startsWith("forwarding"));
    return vm;
  };
  /**
   * The recovery key on the screen titled `title`, from a whole frame (a screendump can catch the prompt half painted).
   * The minute for a whole frame counts from the title's first showing: making the key can take longer than that.
   */
  const readKey = async (title: RegExp): Promise<string> => {
    let lines = await screen.wait(title, VAULT_MS);
    for (const deadline = Date.now() + 60_000; ; lines = await screen.wait(title, VAULT_MS)) {
      const key = lines.join("\n").match(/[a-z]{8}(-[a-z]{8}){3}/g) ?? [];
      if (key.length === 2) return key.join("-");
      if (Date.now() > deadline)
        throw new Error(`no whole recovery key under ${title} on the screen:\n${lines.join("\n")}`);
    }
  };
  /** Types into the masked prompt labelled `label`, checked by its dots, then Enter. */
  const type = (label: "PIN" | "New PIN" | "Recovery key", text: string): Promise<void> =>
    typeSecret(current(), screen, label, text);
  /** Boots and types `pin` at the unlock prompt. */
  const bootAndType = async (name: string, pin: string): Promise<Vm> => {
    const booted = await boot(name);
    await screen.wait(/Vault: unlock/, UEFI_BOOT_MS);
    await type("PIN", pin);
    return booted;
  };
  /** Answers "choose a PIN" and "the same PIN again". */
  const chooseNewPin = async (pin: string): Promise<void> => {
    await screen.wait(/Vault: choose a PIN/, 60_000);
    await type("New PIN", pin);
    await screen.wait(/Vault: the same PIN again/);
    await type("New PIN", pin);
  };
  /** Boots, types the wrong PIN at the unlock prompt, and returns the TPM's count of tries left, which the screen shows. */
  const bootToWrongPin = async (name: string): Promise<{ booted: Vm; triesLeft: number }> => {
    const booted = await boot(name);
    await screen.wait(/Vault: unlock/, UEFI_BOOT_MS);
    await type("PIN", WRONG_PIN);
    const failed = await booted.waitFor("vault.unlock_failed", VAULT_MS);
    expect(failed.reason).toMatch(/^(pin|lockout)$/);
    const triesLeft = Number(failed.tries_left);
    if (failed.reason === "pin") await screen.wait(new RegExp(`Vault: wrong PIN, ${triesLeft} tr(ies|y) left`));
    return { booted, triesLeft };
  };
  /** Starts a test room and returns its output once it is done. */
  const run = async (room: string, done = "vault-room-done"): Promise<string[]> => {
    expect((await current().control(`start ${room}`, 60_000)).ok).toBe(true);
    await current().waitFor("room.output", 120_000, (r) => r.room === room && r.line === done);
    return current()
      .records.filter((r) => r.event === "room.output" && r.room === room)
      .map((r) => String(r.line));
  };
  /** Answers the courier's prompt for `file` of the vault-keeper room: into its vault folder, or Esc. */
  const answerCourier = async (file: string, deliver: boolean): Promise<void> => {
    await screen.wait(new RegExp(`file:   ${file.replace(".", "\\.")}`), 120_000);
    await screen.wait(/Deliver to the vault \(vault-keeper: \/vault\)/);
    if (!deliver) {
      await promptArmed(screen);
      return void (await current().sendKeys(["esc"]));
    }
    await chooseChoice(current(), screen, "Deliver to the vault (vault-keeper: /vault)");
  };
  /** Ctrl-L on the dashboard, then "Lock" at bay0's question. */
  const lockFromDashboard = async (): Promise<void> => {
    await current().sendKeys(["ctrl", "l"]);
    await screen.wait(/Lock the vault\?/);
    await chooseChoice(current(), screen, "Lock");
  };
  /** Neither a PIN nor the recovery key ever reached the serial console (bay0's log and the kernel's). */
  const noSecretsOnSerial = (): void => {
    const secrets = [
      PIN,
      WRONG_PIN,
      NEW_PIN,
      ...[recoveryKey, oldRecoveryKey].filter((key) => key !== "").flatMap((key) => [key.slice(0, 17), key.slice(-17)]),
    ];
    expect(current().lines.filter((l) => secrets.some((secret) => l.includes(secret)))).toEqual([]);
  };
  /** Nor the kernel's log (bay0 writes its records there too): dmesg searched inside the VM, each secret split so that the command never holds it whole. */
  const noSecretsInKmsg = async (): Promise<void> => {
    const secrets = [
      PIN,
      WRONG_PIN,
      NEW_PIN,
      ...[recoveryKey, oldRecoveryKey].filter((key) => key !== "").flatMap((key) => key.split("-")),
    ];
    const patterns = secrets.map((secret) => `-e "${secret.slice(0, 3)}""${secret.slice(3)}"`).join(" ");
    current().send(`sh echo "kmsg-secrets $(dmesg | grep -c ${patterns}) of $(dmesg | grep -c vault)"`);
    const [, found, searched] =
      /^kmsg-secrets (\d+) of (\d+)$/.exec(
        String((await current().waitFor("run.output", 60_000, (r) => String(r.line).startsWith("kmsg-secrets "))).line),
      ) ?? [];
    expect(found).toBe("0");
    // Not an empty search: bay0's vault records are there.
    expect(Number(searched)).toBeGreaterThan(0);
  };
  /** A clean power-off: bay0 locks an open vault before it unmounts, and the kernel sends TPM2_Shutdown (no failure counted for lost power). */
  const powerOff = async (vaultOpen: boolean): Promise<void> => {
    await noSecretsInKmsg();
    await current().powerdown();
    await current().waitForExit(120_000);
    const ending = current()
      .records.filter((r) => r.event === "vault.locked" || r.event === "shutdown.complete")
      .map((r) => `${String(r.event)} ${String(r.reason ?? "")}`.trim());
    if (vaultOpen) expect(ending.slice(-2)).toEqual(["vault.locked shutdown", "shutdown.complete"]);
    else expect(ending.filter((e) => e === "vault.locked shutdown")).toEqual([]);
    expect(ending.at(-1)).toBe("shutdown.complete");
    noSecretsOnSerial();
    await current().stop();
    vm = null;
  };
  afterEach(async () => {
    await vm?.stop();
    vm = null;
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it(
    "a power cut while the recovery key is shown leaves the vault unfinished (labelled so): Esc does not end that screen, and nothing is finished before the person confirms",
    async () => {
      const cut = await boot("vault-cut");
      expect(await cut.waitFor("vault.absent", UEFI_BOOT_MS)).toMatchObject({ reason: "not provisioned yet" });
      await chooseNewPin(PIN);
      await cut.waitFor("vault.provisioned", VAULT_MS);
      await screen.wait(/Vault: your recovery key/, 60_000);
      await promptArmed(screen);
      await cut.sendKeys(["esc"]);
      // Esc (and any wait: no timeout ends it) leaves the key on the screen; the header still says the vault is being provisioned.
      // A negative check: it cannot wait on an event, and a host too slow to have taken the Esc yet passes it too.
      await new Promise((resolve) => setTimeout(resolve, 3000));
      expect((await screen.text()).join("\n")).toContain("Vault: your recovery key");
      const { offset } = vaultPartition(disk);
      const head = Buffer.alloc(4096);
      const fd = openSync(disk, "r");
      readSync(fd, head, 0, head.length, offset);
      closeSync(fd);
      expect(head.includes("anchor-vault-provisioning")).toBe(true);
      expect(cut.records.filter((r) => r.event === "vault.finished" || r.event === "vault.unlocked")).toEqual([]);
      await cut.stop();
      vm = null;
    },
    UEFI_BOOT_MS + VAULT_MS,
  );

  it(
    "the boot after: asks for a new PIN twice, grows the partition, seals LUKS2 to the TPM with it, shows the recovery key once, mounts /persist; a room writes into its folder; shutdown locks it",
    async () => {
      const first = await boot("vault-first");
      expect(await first.waitFor("vault.absent", UEFI_BOOT_MS)).toMatchObject({
        reason: "provisioning was interrupted; starting again",
      });
      // A room that needs the vault is refused, with the reason, until it exists; it never gets an empty stand-in.
      const refused = await first.control("start vault-docs", 60_000);
      expect(refused).toMatchObject({ ok: false });
      expect(String(refused.reason)).toMatch(
        /vault-docs needs the vault, which is not set up: unlock it at the console first/,
      );
      await chooseNewPin(PIN);
      expect(await first.waitFor("vault.provisioned", VAULT_MS)).toMatchObject({ binding: "pcr7+signed-pcr11" });
      // The TPM's own check of the PIN, for use once the vault is open (the interrupted boot made one: this one replaced it).
      expect(await first.waitFor("vault.pin_check", VAULT_MS)).toMatchObject({ ok: true, replaced: true });
      recoveryKey = await readKey(/Vault: your recovery key/);
      await promptArmed(screen);
      await first.sendKeys(["ret"]);
      expect(await first.waitFor("vault.finished", 60_000)).toMatchObject({
        device: expect.stringMatching(/^\/dev\//),
      });
      expect(await first.waitFor("vault.unlocked", 60_000)).toMatchObject({ how: "provisioned", mount: "/persist" });
      expect(await first.waitFor("audit.flushed", 60_000)).toMatchObject({
        earlier: 0,
        unfinished: [],
        after: null,
        count: 1,
      });
      // The TPM's lockout authorization is now the vault's, read back from the TPM.
      expect(await first.waitFor("vault.lockout_auth_set", 60_000)).toMatchObject({ ok: true });
      // And the PIN's guess budget is bay0's, not the firmware's default, read back from the TPM.
      expect(await first.waitFor("vault.da_parameters", 60_000)).toMatchObject({
        ok: true,
        max_tries: 3,
        recovery_s: 7200,
        lockout_recovery_s: 86400,
      });
      const docs = await run("vault-docs");
      expect(docs).toEqual(
        expect.arrayContaining(["vault=present contents=", "scratch=gone", "vault-write=ok owner=user"]),
      );
      expect(await run("vault-none")).toContain("vault=absent");
      await powerOff(true);
    },
    UEFI_BOOT_MS + 2 * VAULT_MS,
  );

  it(
    "next boot: two wrong PINs, each saying how many tries the TPM leaves; the right one opens it; the courier delivers into the room's vault folder; Ctrl-L locks it and stops the rooms that see it",
    async () => {
      const { booted: second, triesLeft } = await bootToWrongPin("vault-second");
      expect(triesLeft).toBe(2);
      await type("PIN", WRONG_PIN);
      expect(await second.waitFor("vault.unlock_failed", VAULT_MS, (r) => r.tries_left === 1)).toMatchObject({
        reason: "pin",
      });
      await screen.wait(/Vault: wrong PIN, 1 try left/);
      await type("PIN", PIN);
      expect(await second.waitFor("vault.unlocked", VAULT_MS)).toMatchObject({ how: "pin", mount: "/persist" });
      // Open: the barrier is in PCR 11 and the TPM took it, so "locked until reboot" below is true.
      expect(await second.waitFor("vault.barrier", 60_000)).toMatchObject({ ok: true, pcr: 11, after: "opened" });
      // The good PIN forgives the wrong ones, with the vault's lockout authorization.
      expect(await second.waitFor("vault.tries_reset", 60_000)).toMatchObject({ ok: true, failures: 2 });
      // Only what was saved into the vault survived the reboot; another room's folder is out of reach.
      const docs = await run("vault-docs");
      expect(docs).toContain("vault=present contents=note-vault-docs.txt ");
      expect(docs).toContain("scratch=gone");
      expect(await run("vault-other")).toContain("vault=present contents=");
      expect((await second.control("start vault-keeper")).ok).toBe(true);
      await answerCourier("small.txt", true);
      expect(await second.waitFor("courier.delivered", 120_000)).toMatchObject({
        room: "vault-keeper",
        to: "vault-keeper",
        into: "vault",
        file: "small.txt",
        size: 18,
      });
      await answerCourier("big.bin", false);
      await second.waitFor("room.output", 60_000, (r) => r.room === "vault-keeper" && r.line === "vault-keeper-done");
      const said = second.records
        .filter((r) => r.event === "room.output" && r.room === "vault-keeper")
        .map((r) => String(r.line));
      expect(said).toEqual(expect.arrayContaining(["keeper-before=", "keeper-after=small.txt "]));
      expect(said.find((l) => l.startsWith("small.txt exit=0"))).toContain('"path":"/vault/small.txt"');
      await lockFromDashboard();
      expect(await second.waitFor("vault.locked", 120_000)).toMatchObject({
        reason: "dashboard",
        rooms_stopped: ["vault-keeper"],
      });
      expect(second.records.some((r) => r.event === "room.killed" && r.room === "vault-keeper")).toBe(true);
      await screen.wait(/vault: locked until reboot/);
      expect(second.records.filter((r) => r.event === "vault.lockout_auth_set")).toEqual([]);
      expect(String((await second.control("start vault-docs")).reason)).toMatch(
        /needs the vault, which is locked until reboot/,
      );
      await powerOff(false);
    },
    UEFI_BOOT_MS + 3 * VAULT_MS,
  );

  it(
    "an update (another command line, the same keys) opens with the PIN alone; a power cut in the middle of a 256 MiB transfer into the vault, which refuses to lock meanwhile",
    async () => {
      install(ukis.update);
      const third = await bootAndType("vault-update", PIN);
      expect(await third.waitFor("vault.unlocked", VAULT_MS)).toMatchObject({ how: "pin" });
      expect(third.records.filter((r) => r.event === "vault.unlock_failed")).toEqual([]);
      expect((await third.control("start vault-keeper")).ok).toBe(true);
      await answerCourier("small.txt", false);
      await answerCourier("big.bin", true);
      await third.waitFor("courier.approved", 60_000, (r) => r.file === "big.bin");
      await lockFromDashboard();
      await screen.wait(/vault: a write into the vault is in progress: big\.bin from vault-keeper/, 60_000);
      expect(third.records.filter((r) => r.event === "courier.delivered" || r.event === "vault.locked")).toEqual([]);
      // The power cut: QEMU quits at once, mid-copy.
      await third.stop();
      vm = null;
    },
    UEFI_BOOT_MS + 3 * VAULT_MS,
  );

  it(
    "a UKI whose PCR policy another key signed: the TPM refuses, the recovery key opens it and a new PIN is sealed; the cut transfer left nothing partial; 256 MiB goes in from a room that leaves the courier less memory than that",
    async () => {
      install(ukis.otherKey);
      const fourth = await bootAndType("vault-other-key", PIN);
      expect(await fourth.waitFor("vault.unlock_failed", VAULT_MS)).toMatchObject({ reason: "pcr" });
      await screen.wait(/Vault: the TPM refused: the image or firmware changed/);
      await type("Recovery key", recoveryKey);
      expect(await fourth.waitFor("vault.recovery_used", VAULT_MS)).toMatchObject({ reason: "pcr" });
      await chooseNewPin(NEW_PIN);
      expect(await fourth.waitFor("vault.resealed", VAULT_MS)).toMatchObject({
        ok: true,
        binding: "pcr7+signed-pcr11",
      });
      // The TPM's check of the PIN follows the new PIN.
      expect(await fourth.waitFor("vault.pin_check", VAULT_MS)).toMatchObject({ ok: true, replaced: true });
      expect(await fourth.waitFor("vault.unlocked", VAULT_MS)).toMatchObject({ how: "recovery" });
      // The boot cut off by the power cut never closed its audit copy; the earlier ones did.
      const flushed = await fourth.waitFor("audit.flushed", 60_000);
      expect(flushed).toMatchObject({ earlier: 3 });
      expect(flushed.unfinished).toHaveLength(1);
      // The TPM counted the power cut as a failure; the recovery key forgives it.
      expect(await fourth.waitFor("vault.tries_reset", 60_000)).toMatchObject({ ok: true, failures: 1 });
      expect((await fourth.control("start vault-keeper")).ok).toBe(true);
      const before = String(
        (
          await fourth.waitFor(
            "room.output",
            60_000,
            (r) => r.room === "vault-keeper" && String(r.line).startsWith("keeper-before="),
          )
        ).line,
      );
      // The whole file or nothing, never a part of it; and no staged leftovers in the folder.
      expect(before).toMatch(new RegExp(`^keeper-before=(big\\.bin:${BIG_BYTES} )?small\\.txt:18 $`));
      // 256 MiB again, delivered this time, from a room whose memory limit leaves the courier less than the file: it streams.
      // So does bay0, which hashed it for the prompt: its peak memory grows by far less than the file.
      const peakOfBay0 = async (when: string): Promise<number> => {
        fourth.send(`sh echo "peak-${when} $(grep VmHWM /proc/1/status)"`);
        return (
          Number.parseInt(
            String(
              (await fourth.waitFor("run.output", 60_000, (r) => String(r.line).startsWith(`peak-${when} `))).line,
            ).replace(/\D+/g, ""),
            10,
          ) * 1024
        );
      };
      const peakBefore = await peakOfBay0("before");
      await answerCourier("small.txt", false);
      await answerCourier("big.bin", true);
      const delivered = await fourth.waitFor("courier.delivered", VAULT_MS, (r) => r.size === BIG_BYTES);
      expect(delivered).toMatchObject({
        room: "vault-keeper",
        into: "vault",
        file: before.includes("big.bin") ? "big-2.bin" : "big.bin",
      });
      expect((await peakOfBay0("after")) - peakBefore).toBeLessThan(BIG_BYTES / 4);
      expect(fourth.records.filter((r) => r.event === "courier.failed" || r.event === "room.oom")).toEqual([]);
      await powerOff(true);
    },
    UEFI_BOOT_MS + 4 * VAULT_MS,
  );

  it(
    "wrong PINs up to the TPM's lockout: it says so and takes the recovery key, which opens the vault (the token stays: a locked-out TPM seals nothing) and forgives the failures",
    async () => {
      const first = await bootToWrongPin("vault-lockout");
      const lockedOut = first.booted;
      let triesLeft = first.triesLeft;
      for (let i = 0; triesLeft > 0 && i < 3; i++) {
        await type("PIN", WRONG_PIN);
        triesLeft = Number(
          (await lockedOut.waitFor("vault.unlock_failed", VAULT_MS, (r) => Number(r.tries_left) < triesLeft))
            .tries_left,
        );
      }
      expect(lockedOut.records.filter((r) => r.event === "vault.unlock_failed").at(-1)).toMatchObject({
        reason: "lockout",
        tries_left: 0,
      });
      await screen.wait(/Vault: the TPM is locked out after too many wrong PINs/);
      await type("Recovery key", recoveryKey);
      expect(await lockedOut.waitFor("vault.recovery_used", VAULT_MS)).toMatchObject({ reason: "lockout" });
      expect(await lockedOut.waitFor("vault.unlocked", VAULT_MS)).toMatchObject({ how: "recovery", mount: "/persist" });
      expect(await run("vault-docs")).toContain("vault=present contents=note-vault-docs.txt ");
      expect(lockedOut.records.some((r) => r.event === "vault.resealed")).toBe(false);
      expect(await lockedOut.waitFor("vault.tries_reset", 60_000)).toMatchObject({ ok: true, failures: 3 });
      // Whoever holds the vault's key cuts the first boot's audit file back to look like a power cut, deletes the third's (the
      // power cut's) and this boot's own, the newest, which no later file names yet; and leaves a fifo and a link to an endless
      // device among them, which would hang a reader that followed them.
      lockedOut.send(
        `sh cd /persist/audit && set -- $(ls | sort) && for i in 1 2 3; do sed -i '$d' "$1"; done && rm "$3" "$5" && mkfifo fifo.jsonl && ln -s /dev/zero zero.jsonl && echo "tampered $1 $3 $5"`,
      );
      const [, cut = "", deleted = "", own = ""] = String(
        (await lockedOut.waitFor("run.output", 60_000, (r) => String(r.line).startsWith("tampered "))).line,
      ).split(" ");
      tampered = { cut, deleted, own };
      expect(own).toBe(lockedOut.records.find((r) => r.event === "audit.flushed")?.file);
      await powerOff(true);
    },
    UEFI_BOOT_MS + 4 * VAULT_MS,
  );

  it(
    "the next boot opens with the new PIN: sealed after the recovery, and the lockout forgiven",
    async () => {
      const forgiven = await bootAndType("vault-new-pin", NEW_PIN);
      expect(await forgiven.waitFor("vault.unlocked", VAULT_MS)).toMatchObject({ how: "pin" });
      expect(forgiven.records.filter((r) => r.event === "vault.unlock_failed")).toEqual([]);
      expect(await run("vault-docs")).toContain("vault=present contents=note-vault-docs.txt ");
      // The later boots' files still hold what they found of the cut and the deleted one: the cut one is not taken for a power
      // cut. The newest, which no file names, the TPM's count of vault openings gives away: six, one per boot that opened it.
      const flushed = await forgiven.waitFor("audit.flushed", 60_000);
      expect(flushed).toMatchObject({ earlier: 3, unfinished: [tampered.cut], count: 6 });
      const broken = forgiven.records.filter((r) => r.event === "audit.broken");
      expect(broken).toHaveLength(5);
      expect(broken).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            file: tampered.cut,
            reason: expect.stringMatching(/records were cut from it, or it was rewritten/),
          }),
          expect.objectContaining({
            file: tampered.deleted,
            reason: expect.stringMatching(/^missing: .* names it as the boot's file before its own/),
          }),
          expect.objectContaining({
            file: flushed.after,
            reason: expect.stringMatching(/^the TPM counted 1 vault opening after this file's, whose file is gone/),
          }),
          expect.objectContaining({ file: "fifo.jsonl", reason: "unreadable: not a regular file" }),
          expect.objectContaining({ file: "zero.jsonl", reason: expect.stringMatching(/^unreadable: .*ELOOP/) }),
        ]),
      );
      forgiven.send("sh rm /persist/audit/fifo.jsonl /persist/audit/zero.jsonl && echo planted-gone");
      await forgiven.waitFor("run.output", 60_000, (r) => r.line === "planted-gone");

      // A new recovery key from the open vault (the TPM's unseal is barred now): the PIN typed again, checked by the TPM.
      // The first PIN, which the reseal replaced, is wrong now and costs a try; the current one passes.
      await forgiven.sendKeys(["ctrl", "n"]);
      await screen.wait(/Vault: a new recovery key replaces the old one/);
      await type("PIN", PIN);
      expect(await forgiven.waitFor("vault.recovery_key_refused", VAULT_MS)).toMatchObject({
        reason: "pin",
        tries_left: 2,
      });
      await screen.wait(/vault: wrong PIN, 2 tries left/);
      await forgiven.sendKeys(["ctrl", "n"]);
      await screen.wait(/Vault: a new recovery key replaces the old one/);
      await type("PIN", NEW_PIN);
      oldRecoveryKey = recoveryKey;
      recoveryKey = await readKey(/Vault: your new recovery key/);
      expect(recoveryKey).not.toBe(oldRecoveryKey);
      // Both keys open it until the person confirms: a power cut here loses neither.
      expect(forgiven.records.filter((r) => r.event === "vault.recovery_key_replaced")).toEqual([]);
      await promptArmed(screen);
      await forgiven.sendKeys(["ret"]);
      expect(await forgiven.waitFor("vault.recovery_key_replaced", VAULT_MS)).toMatchObject({
        device: expect.stringMatching(/^\/dev\//),
      });
      await screen.wait(/vault: the new recovery key replaced the old one/, 60_000);
      // The right PIN forgave the wrong one.
      expect(await forgiven.waitFor("vault.tries_reset", 60_000, (r) => r.failures === 1)).toMatchObject({ ok: true });
      await powerOff(true);
    },
    UEFI_BOOT_MS + 4 * VAULT_MS,
  );

  it("is a plain LUKS2 volume: on the host, cryptsetup and the (new) recovery key alone open it, the replaced one no longer; its files, and each boot's audit log, which verifies and holds no PIN", () => {
    const vault = vaultPartition(disk);
    // Grown at the first boot: from its place to the end of the 1.5 GiB disk, less the backup GPT.
    expect(vault.offset + vault.bytes).toBeGreaterThan(1535 * 1024 * 1024);
    const header = vaultHeader(disk, join(scratch, "vault-header.img"));
    const test = (key: string) =>
      spawnSync("cryptsetup", ["open", "--test-passphrase", "--key-file=-", header], { input: key, encoding: "utf8" });
    expect(test(recoveryKey).status, test(recoveryKey).stderr).toBe(0);
    expect(oldRecoveryKey).not.toBe("");
    expect(test(oldRecoveryKey).status).not.toBe(0);
    expect(test(WRONG_PIN).status).not.toBe(0);
    const dump = spawnSync("cryptsetup", ["luksDump", header], { encoding: "utf8" });
    expect(dump.stdout).toMatch(/Version:\s+2/);
    expect(dump.stdout).toMatch(/Label:\s+anchor-vault\n/);
    expect(dump.stdout).toContain("systemd-tpm2");
    expect(dump.stdout).toContain("systemd-recovery");
    // Two keyslots: the TPM's and the recovery key's; the random passphrases of provisioning and of the new recovery key are gone.
    const keyslots = dump.stdout.slice(dump.stdout.indexOf("Keyslots:"), dump.stdout.indexOf("Tokens:"));
    expect(keyslots.match(/^\s+\d+: luks2$/gm)).toHaveLength(2);
    // The recovery key's keyslot, which its systemd-recovery token names, is argon2id like the passphrase's was.
    const recoverySlot = /systemd-recovery\s+Keyslot:\s+(\d+)/.exec(dump.stdout)?.[1];
    expect(new RegExp(`^\\s+${recoverySlot}: luks2\\n(\\t.*\\n)*?\\tPBKDF:\\s+argon2id`, "m").test(keyslots)).toBe(
      true,
    );

    const opened = openVaultOnHost(disk, recoveryKey, scratch);
    expect(opened.read("/rooms/docs/note-vault-docs.txt").toString()).toBe("kept by vault-docs\n");
    const keeper = opened.list("/rooms/keeper");
    expect(keeper.get("small.txt")).toBe(18);
    // The delivered 256 MiB, and maybe the one the power cut left whole, never a part of one.
    const big = [...keeper.keys()].filter((name) => name !== "small.txt").sort();
    expect(["big.bin", "big-2.bin"]).toEqual(expect.arrayContaining(big));
    expect(big).toContain("big.bin");
    const zeros = createHash("sha256").update(Buffer.alloc(BIG_BYTES)).digest("hex");
    for (const name of big)
      expect(
        createHash("sha256")
          .update(opened.read(`/rooms/keeper/${name}`))
          .digest("hex"),
        name,
      ).toBe(zeros);
    expect([...opened.list("/.staging").keys()]).toEqual([]);
    // One audit file per boot that opened the vault but the deleted two, each an intact chain; the cut one does not end closed.
    const audits = [...opened.list("/audit").keys()].sort();
    expect(audits).toHaveLength(4);
    expect(audits).not.toContain(tampered.deleted);
    expect(audits).not.toContain(tampered.own);
    const secrets = [PIN, WRONG_PIN, NEW_PIN, ...recoveryKey.split("-"), ...oldRecoveryKey.split("-")];
    const verdicts = audits.map((name) => {
      const text = opened.read(`/audit/${name}`).toString();
      expect(secrets.filter((secret) => text.includes(secret))).toEqual([]);
      return verifyAudit(text);
    });
    expect(verdicts.map((v) => v.ok && v.closed)).toEqual([false, true, true, true]);
    expect(audits[0]).toBe(tampered.cut);
    // The host's verifier, as a person runs it: one file alone is intact; the whole folder shows the cut and the deletion.
    for (const name of audits) writeFileSync(join(scratch, name), opened.read(`/audit/${name}`));
    const verify = (names: string[]) =>
      spawnSync("npm", ["run", "--silent", "audit", "--", "verify", ...names.map((name) => join(scratch, name))], {
        cwd: ROOT,
        encoding: "utf8",
      });
    const second = verify(audits.slice(1, 2));
    expect(second.status, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/intact, \d+ records/);
    expect(second.stdout).not.toContain(CLOSING_EVENT);
    const all = verify(audits);
    expect(all.status, all.stderr).toBe(1);
    expect(all.stdout).toContain(`${tampered.cut}: its end is not what`);
    expect(all.stdout).toContain(`${tampered.deleted}: missing: `);
  }, 300_000);

  it(
    "refuses to provision on a TPM whose lockout authorization it does not know: a wiped disk on the TPM an earlier vault took",
    async () => {
      const { offset } = vaultPartition(disk);
      const fd = openSync(disk, "r+");
      writeSync(fd, Buffer.alloc(16 * 1024 * 1024), 0, 16 * 1024 * 1024, offset);
      closeSync(fd);
      const seventh = await boot("vault-taken-tpm");
      expect(await seventh.waitFor("vault.provision_failed", UEFI_BOOT_MS)).toMatchObject({ step: "lockout-auth" });
      await screen.wait(/Vault: this TPM is already taken/);
      expect(seventh.records.filter((r) => r.event === "vault.provisioning")).toEqual([]);
      // Not opened this boot, and still the barrier: nothing later in this boot can try a PIN.
      await promptArmed(screen);
      await seventh.sendKeys(["ret"]);
      expect(await seventh.waitFor("vault.barrier", 60_000)).toMatchObject({ ok: true, pcr: 11, after: "not opened" });
      await powerOff(false);
    },
    UEFI_BOOT_MS + VAULT_MS,
  );
});
