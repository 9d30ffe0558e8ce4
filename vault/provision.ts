/**
 * Provisions the vault, in the vault helper (vault/open.ts, never PID 1),
 * because it is a long run of external tools, none of which PID 1 needs to
 * host. The new PIN arrives in bay0's request, never on a command line, and
 * reaches systemd-cryptenroll in its environment (NEWPIN). Steps, each with the
 * vault's tools from their verity image:
 *   1. grow the partition to the end of the disk (and the backup GPT with it),
 *   2. LUKS2 (argon2id) labelled "provisioning", with a random passphrase
 *      that only this process ever knows,
 *   3. a recovery key (its keyslot argon2id too), then the systemd-tpm2 token: PCR 7 plus the owner's
 *      signed PCR 11 policy (/.extra from the stub), the PIN as its authorization,
 *   4. ext4 inside, the random passphrase wiped, then the label "vault".
 * An interrupted run leaves the "provisioning" label, and the next boot
 * starts again from step 2. It answers with the recovery key (for bay0 to
 * show once on the screen, nowhere else) or the step that failed.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { LABEL } from "./header.ts";
import { runVaultTool } from "./run-tool.ts";
import { sealArguments } from "./seal.ts";
import { VAULT_MAPPER } from "./tools.ts";

export type ProvisionResult =
  | { ok: true; recovery_key: string; binding: "pcr7+signed-pcr11" | "pcr7" }
  | { ok: false; step: string; error: string };

/** A step of a run of the vault's tools that failed: its name, and the tool's complaint. */
export class StepFailed extends Error {
  constructor(
    readonly step: string,
    message: string,
  ) {
    super(message);
  }
}

export function run(
  step: string,
  tool: string,
  args: string[],
  options: { input?: string; env?: Record<string, string> } = {},
): string {
  const result = runVaultTool(tool, args, options);
  if (!result.ok) throw new StepFailed(step, result.error);
  return result.stdout;
}

/** argv: the vault partition's device, its disk, and its partition number. */
export function provision([device = "", disk = "", number = ""]: string[], pin: string): ProvisionResult {
  try {
    if (!/^\/dev\/[a-z0-9]+$/.test(device) || !/^\/dev\/[a-z0-9]+$/.test(disk) || !/^\d+$/.test(number))
      throw new StepFailed("arguments", "bad arguments");
    mkdirSync("/run/cryptsetup", { recursive: true });
    run("grow", "sfdisk", ["--relocate", "gpt-bak-std", disk]);
    run("grow", "sfdisk", ["--no-reread", "--no-tell-kernel", "-N", number, disk], { input: ", +\n" });
    run("grow", "partx", ["-u", "--nr", number, disk]);
    const passphrase = randomBytes(32).toString("hex");
    const unlock = { PASSWORD: passphrase };
    run(
      "format",
      "cryptsetup",
      [
        "luksFormat",
        "--type",
        "luks2",
        "--batch-mode",
        "--pbkdf",
        "argon2id",
        "--label",
        LABEL.provisioning,
        "--key-file=-",
        device,
      ],
      { input: passphrase },
    );
    const recoveryKey = run("recovery-key", "systemd-cryptenroll", ["--recovery-key", device], { env: unlock }).trim();
    // systemd gives the recovery key's keyslot PBKDF2 with few iterations; converted in place (its token still points at it).
    run("recovery-key", "cryptsetup", ["luksConvertKey", "--pbkdf", "argon2id", "--key-file=-", device], {
      input: recoveryKey,
    });
    const seal = sealArguments();
    run("tpm2", "systemd-cryptenroll", [...seal.args, device], { env: { ...unlock, NEWPIN: pin } });
    run("open", "cryptsetup", ["open", "--key-file=-", device, VAULT_MAPPER], { input: passphrase });
    run("mkfs", "mke2fs", ["-q", "-t", "ext4", "-L", "anchor-persist", `/dev/mapper/${VAULT_MAPPER}`]);
    run("wipe", "systemd-cryptenroll", ["--wipe-slot=password", device], { env: unlock });
    // Still labelled PROVISIONING: it is finished (finishVault) only once the person has confirmed the recovery key.
    return { ok: true, recovery_key: recoveryKey, binding: seal.binding };
  } catch (error) {
    return error instanceof StepFailed
      ? { ok: false, step: error.step, error: error.message }
      : { ok: false, step: "?", error: String(error) };
  }
}

/** Labels the vault finished: after the person confirmed they have its recovery key, never before (a power cut before that starts it again). */
export function finishVault(device: string): ProvisionResult | { ok: true } {
  const labelled = runVaultTool("cryptsetup", ["config", "--label", LABEL.vault, device]);
  return labelled.ok ? { ok: true } : { ok: false, step: "label", error: labelled.error };
}
