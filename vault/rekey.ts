/**
 * A new recovery key for the open vault: a helper (bay0's executable in
 * `vault-rekey` mode, root, never PID 1), started when the person asks from
 * the dashboard. It runs the dialog (vault/dialog.ts rekeyDialog: the PIN,
 * then the new key shown), its prompts through bay0, over these steps:
 *   check   the PIN, checked by the TPM (vault/pin-check.ts): a wrong one
 *           costs a try, as at the unlock prompt;
 *   enrol   after a right PIN only: a new recovery key, made with the volume
 *           key the open vault's device-mapper table holds (no other key is
 *           at hand: the TPM's token stops at the barrier), through a
 *           passphrase slot that lives only until the key is in;
 *   retire  once the person confirmed they wrote it down: every other
 *           recovery key removed. A power cut before that leaves both keys.
 */
import { closeSync, constants, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { rekeyDialog, talkToBay0, type OpenReply } from "./dialog.ts";
import { lockout, settleLockout, tpm } from "./open.ts";
import { checkCommand, parsePinCheck } from "./pin-check.ts";
import { run, StepFailed } from "./provision.ts";
import { cryptVolumeKey, recoverySlots } from "./rekey-parse.ts";
import { VAULT_MAPPER } from "./tools.ts";
import { REKEYED_MAX } from "./open-protocol.ts";
import { readTable } from "../sys/device-mapper.ts";
import { openHelperLibc } from "../sys/libc-helper.ts";
import type { Log } from "../sys/log.ts";

export type RekeyRequest = { do: "check"; pin: string } | { do: "enrol" } | { do: "retire" };

/** A passphrase slot (random, never seen by anyone) added with the volume key, which systemd-cryptenroll can then unlock with. */
function addPassphraseSlot(device: string): string {
  const table = (() => {
    const control = openSync("/dev/mapper/control", constants.O_RDWR);
    try {
      return readTable(openHelperLibc(), control, VAULT_MAPPER);
    } finally {
      closeSync(control);
    }
  })();
  if (!table.ok) throw new StepFailed("volume-key", table.error);
  const key = cryptVolumeKey(table.params);
  if (typeof key === "string") throw new StepFailed("volume-key", key);
  // In /run, which is RAM: cryptsetup reads a volume key only from a file.
  const dir = mkdtempSync("/run/anchor-rekey-");
  const passphrase = randomBytes(32).toString("hex");
  try {
    writeFileSync(`${dir}/volume-key`, key, { mode: 0o400 });
    key.fill(0);
    // Cheap PBKDF: the slot is gone again within the minute, and its passphrase is 256 random bits.
    run(
      "passphrase",
      "cryptsetup",
      [
        "luksAddKey",
        "--batch-mode",
        "--pbkdf",
        "pbkdf2",
        "--pbkdf-force-iterations",
        "1000",
        `--volume-key-file=${dir}/volume-key`,
        "--new-keyfile=-",
        device,
      ],
      { input: passphrase },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return passphrase;
}

/** The new recovery key, its keyslot argon2id like provisioning's; the passphrase slot that made it, gone. */
function enrol(device: string): string {
  const passphrase = addPassphraseSlot(device);
  const key = run("recovery-key", "systemd-cryptenroll", ["--recovery-key", device], {
    env: { PASSWORD: passphrase },
  }).trim();
  run("recovery-key", "cryptsetup", ["luksConvertKey", "--pbkdf", "argon2id", "--key-file=-", device], { input: key });
  // Every slot without a token: this one, and any an earlier power cut left.
  run("passphrase", "systemd-cryptenroll", ["--wipe-slot=password", device], { env: { PASSWORD: key } });
  return key;
}

type Made = { key: string; earlier: string[] };

function answer(
  request: RekeyRequest,
  device: string,
  log: Log,
  state: { checked: boolean; made: Made | null },
): OpenReply {
  switch (request.do) {
    case "check": {
      const checked = parsePinCheck(tpm(checkCommand(request.pin)));
      if (checked === "ok") {
        state.checked = true;
        // A right PIN forgives the wrong ones before it, as an unlock does.
        settleLockout(log);
        return { ok: true };
      }
      if (checked === "wrong") return { ok: false, reason: "pin", tries_left: lockout()?.triesLeft ?? null };
      if (checked === "lockout")
        return { ok: false, reason: "lockout", error: "the TPM is locked out after too many wrong PINs" };
      if (checked === "absent")
        return {
          ok: false,
          reason: "absent",
          error: "this vault's PIN has no TPM check yet: it gets one the next time the PIN opens the vault",
        };
      return { ok: false, reason: "unknown", error: checked.error };
    }
    case "enrol": {
      if (!state.checked) return { ok: false, step: "check", error: "no right PIN yet" };
      const earlier = recoverySlots(run("metadata", "cryptsetup", ["luksDump", "--dump-json-metadata", device]));
      const key = enrol(device);
      state.made = { key, earlier };
      return { ok: true, recovery_key: key };
    }
    case "retire": {
      if (state.made === null) return { ok: false, step: "retire", error: "no new recovery key yet" };
      const { key, earlier } = state.made;
      if (earlier.length > 0)
        run("retire", "systemd-cryptenroll", [`--wipe-slot=${earlier.join(",")}`, device], { env: { PASSWORD: key } });
      return { ok: true };
    }
  }
}

/** argv: the vault partition's device. Ends with the dialog, reporting `{rekeyed}`: null once done, else why not. */
export async function runVaultRekey([device = ""]: string[]): Promise<void> {
  const { log, ask, say, end } = talkToBay0();
  const state: { checked: boolean; made: Made | null } = { checked: false, made: null };
  const step = (request: RekeyRequest): OpenReply => {
    try {
      return answer(request, device, log, state);
    } catch (error) {
      return error instanceof StepFailed
        ? { ok: false, step: error.step, error: error.message }
        : { ok: false, error: String(error) };
    }
  };
  let rekeyed: string | null;
  try {
    rekeyed = /^\/dev\/[a-z0-9]+$/.test(device) ? await rekeyDialog({ log, ask, step }, device) : "bad arguments";
  } catch (error) {
    rekeyed = String(error);
  }
  say({ rekeyed: rekeyed?.slice(0, REKEYED_MAX) ?? null });
  end();
}
