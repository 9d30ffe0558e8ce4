/**
 * The vault (`npm run bench -- vault`): the unlock, from the PIN entered to
 * /persist mounted, vs `cryptsetup open` with the raw volume key plus the
 * same mount in the same VM; the TPM's share reported apart.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chooseChoice, promptArmed, typeSecret } from "../test/qemu/keyboard.ts";
import { screenReader } from "../test/qemu/screen.ts";
import { vaultTestDisk, vaultTestUki } from "../test/qemu/vault-disk.ts";
import { pcrSigningKey } from "../uki/sign.ts";
import { Vm } from "../test/qemu/vm.ts";
import { BOOT_TIMEOUT_MS, median, RUNS, type Row } from "./common.ts";

type VaultFigures = { unlockMs: number; attachMs: number; openMs: number; mountMs: number };

/** Boots a vault disk RUNS + 1 times: provisions it, then each boot unlocks with the PIN, locks, and times a raw-key open + mount. */
async function vaultBench(): Promise<VaultFigures> {
  const scratch = mkdtempSync(join(tmpdir(), "anchor-bench-vault-"));
  const uki = join(scratch, "bench.efi");
  const disk = join(scratch, "disk.img");
  vaultTestUki(scratch, uki, [], pcrSigningKey(null, scratch));
  vaultTestDisk(disk, uki);
  const PIN = "kestrel42";
  let vm: Vm | null = null;
  const screen = screenReader(() => {
    if (vm === null) throw new Error("no VM");
    return vm;
  }, "bench-vault");
  const boot = async (name: string): Promise<Vm> => {
    const booted = await Vm.boot({
      name,
      uefiDisk: disk,
      persistDisk: true,
      tpmState: join(scratch, "tpm"),
      usbKeyboard: true,
      memoryMb: 2048,
      noReboot: true,
      testPort: true,
    });
    vm = booted;
    await booted.waitFor("run.output", BOOT_TIMEOUT_MS * 2, (r) => String(r.line).startsWith("forwarding"));
    return booted;
  };
  const type = (label: "PIN" | "New PIN", text: string): Promise<void> => {
    if (vm === null) throw new Error("no VM");
    return typeSecret(vm, screen, label, text);
  };
  const powerOff = async (booted: Vm): Promise<void> => {
    await booted.powerdown();
    await booted.waitForExit(120_000);
    await booted.stop();
  };
  try {
    const first = await boot("bench-vault-provision");
    await screen.wait(/Vault: choose a PIN/, 120_000);
    await type("New PIN", PIN);
    await screen.wait(/Vault: the same PIN again/);
    await type("New PIN", PIN);
    const device = String((await first.waitFor("vault.provisioning", 60_000)).device);
    const shown = await screen.wait(/Vault: your recovery key/, 300_000);
    const recoveryKey = (shown.join("\n").match(/[a-z]{8}(-[a-z]{8}){3}/g) ?? []).join("-");
    await promptArmed(screen);
    await first.sendKeys(["ret"]);
    await first.waitFor("vault.unlocked", 60_000);
    await powerOff(first);
    const figures: VaultFigures[] = [];
    for (let i = 0; i < RUNS; i++) {
      const booted = await boot(`bench-vault-${i}`);
      await screen.wait(/Vault: unlock/, 120_000);
      await type("PIN", PIN);
      const unlocked = await booted.waitFor("vault.unlocked", 120_000);
      await booted.sendKeys(["ctrl", "l"]);
      await screen.wait(/Lock the vault\?/);
      await chooseChoice(booted, screen, "Lock");
      await booted.waitFor("vault.locked", 60_000);
      // The raw volume key, dumped with the recovery key, opens the same volume without any keyslot or the TPM.
      const tools = "T=/usr/lib/anchor/vault; export LD_LIBRARY_PATH=$T/lib DM_DISABLE_UDEV=1; mkdir -p /run/bench-mnt";
      booted.send(
        `sh ${tools}; printf %s '${recoveryKey}' | $T/bin/cryptsetup luksDump --dump-volume-key --batch-mode --volume-key-file=/run/bench.key --key-file=- ${device} >/dev/null; s=$EPOCHREALTIME; $T/bin/cryptsetup open --volume-key-file=/run/bench.key ${device} bench; m=$EPOCHREALTIME; mount -o nosuid,nodev,noexec /dev/mapper/bench /run/bench-mnt; e=$EPOCHREALTIME; echo "raw-open $s $m $e"; umount /run/bench-mnt; $T/bin/cryptsetup close bench; rm /run/bench.key`,
      );
      const line = await booted.waitFor("run.output", 120_000, (r) => String(r.line).startsWith("raw-open "));
      const [, start = 0, opened = 0, mounted = 0] = String(line.line).split(" ").map(Number);
      figures.push({
        unlockMs: Number(unlocked.ms),
        attachMs: Number(unlocked.attach_ms),
        openMs: (opened - start) * 1000,
        mountMs: (mounted - opened) * 1000,
      });
      await powerOff(booted);
      vm = null;
    }
    const pick = (key: keyof VaultFigures): number => median(figures.map((f) => f[key]));
    return { unlockMs: pick("unlockMs"), attachMs: pick("attachMs"), openMs: pick("openMs"), mountMs: pick("mountMs") };
  } finally {
    await (vm as Vm | null)?.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

export async function vaultRows(): Promise<Row[]> {
  const v = await vaultBench();
  const raw = v.openMs + v.mountMs;
  // systemd-cryptsetup's attach less a raw-key open: the TPM's unseal (with the PIN) and the token's keyslot.
  const tpm = Math.max(0, v.attachMs - v.openMs);
  return [
    [
      "vault: PIN entered -> /persist mounted",
      `${v.unlockMs.toFixed(0)} ms`,
      `systemd-cryptsetup attach ${v.attachMs.toFixed(0)} ms`,
    ],
    [
      "  raw volume key: open + mount",
      `${raw.toFixed(0)} ms`,
      `open ${v.openMs.toFixed(0)} ms, mount ${v.mountMs.toFixed(0)} ms`,
    ],
    ["  the TPM's own time", `${tpm.toFixed(0)} ms`, "attach - raw open"],
    ["  ratio without the TPM's time", `${((v.unlockMs - tpm) / raw).toFixed(2)}`, "target <= 1.5"],
  ];
}
