/**
 * Opens the vault: a helper process (bay0's executable in `vault-open` mode,
 * started by bay0 as root in bay0's mount namespace, never PID 1), because
 * opening is a run of the vault's tools and TPM commands that PID 1 need not
 * host; bay0 keeps the prompts. bay0 starts it when the vault needs the
 * person, so it is ready by the time a PIN is typed, and sends it one
 * request at a time on its stdin (vault/open-protocol.ts): secrets never
 * reach a command line or an environment. A wrong PIN is told apart from a
 * refusing TPM by the TPM's own dictionary-attack counter, read before and
 * after. Once open: /persist mounted, the barrier extended into PCR 11 (so
 * nothing later in this boot can unseal the vault again), the courier's
 * staging emptied, the earlier boots' audit files checked, the TPM's
 * lockout authorization settled, and it ends.
 */
import {
  closeSync,
  constants,
  existsSync,
  fstatSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  writeSync,
} from "node:fs";
import { createHash, randomBytes } from "node:crypto";
import { defineCounterCommand, incrementCommand, parseCounter, readCounterCommand } from "./open-counter.ts";
import {
  DA_POLICY,
  daParametersCommand,
  GET_DA_PROPERTIES,
  hasDaPolicy,
  parseLockout,
  resetLockoutCommand,
  setLockoutAuthCommand,
  unlockFailure,
  type Lockout,
} from "./lockout.ts";
import type { VaultReport } from "./open-protocol.ts";
import { talkToBay0, unlockDialog, type OpenReply } from "./dialog.ts";
import { runVaultTool } from "./run-tool.ts";
import { EXAMINED_BYTES, PRIMARY_BYTES, primaryState, vaultState, type VaultState } from "./header.ts";
import { finishVault, provision } from "./provision.ts";
import { defineCommand, parsePinCheck, readPublicCommand, undefineCommand, writeCommand } from "./pin-check.ts";
import { PCR_SIGNATURE, sealArguments } from "./seal.ts";
import { sealingRefusalNow } from "./secure-boot.ts";
import { PERSIST, VAULT_AUDIT, VAULT_MAPPER, VAULT_STAGING } from "./tools.ts";
import {
  AUDIT_LINE_MAX_BYTES,
  checkCopies,
  LISTED,
  summarize,
  type CopiesFound,
  type Summary,
} from "../audit/verify.ts";
import { linesOfFile } from "../sys/file-lines.ts";
import { MS } from "../sys/libc.ts";
import { openLibc } from "../sys/libc-ffi.ts";
import type { Log } from "../sys/log.ts";
import { tpmSucceeded } from "../sys/tpm-command.ts";
import { pcrExtendCommand } from "../sys/tpm-device.ts";

const TPM_DEVICE = "/dev/tpmrm0";

/** The dialog's steps (vault/dialog.ts), each answered by `answer` below. */
export type OpenRequest =
  /** The TPM's dictionary-attack state: is its lockout authorization taken? */
  | { do: "lockout" }
  /** The blank (or half-provisioned) partition made a vault sealed to the TPM with this new PIN (vault/provision.ts), left open. */
  | { do: "provision"; disk: string; number: number; pin: string }
  /** The person confirmed the recovery key: the vault's header labelled finished. */
  | { do: "finish" }
  /** systemd-cryptsetup opens the vault with the PIN. */
  | { do: "pin"; pin: string }
  /** cryptsetup opens it with the recovery key. */
  | { do: "key"; key: string }
  /** After the recovery key opened it: a new PIN sealed to the TPM as it is now (before the barrier). */
  | { do: "reseal"; key: string; pin: string }
  /** /persist mounted and the barrier extended. */
  | { do: "mount" };

/** What nothing may unseal after: the word extended into PCR 11 once the vault is open. */
const BARRIER = createHash("sha256").update("anchor-vault-opened").digest("hex");
/** The TPM's lockout authorization, inside the vault only: whoever holds it may reset the dictionary-attack counter. */
const LOCKOUT_AUTH_FILE = `${PERSIST}/.tpm-lockout-auth`;

/** One TPM command and its reply, or null without one (blocking: this is a helper). */
export function tpm(command: Uint8Array): Uint8Array | null {
  try {
    const fd = openSync(TPM_DEVICE, "r+");
    try {
      writeSync(fd, command);
      const reply = new Uint8Array(4096);
      return reply.subarray(0, readSync(fd, reply));
    } finally {
      closeSync(fd);
    }
  } catch {
    return null;
  }
}

export function lockout(): Lockout | null {
  const reply = tpm(GET_DA_PROPERTIES);
  return reply === null ? null : parseLockout(reply);
}

/**
 * Keeps the TPM's lockout authorization the vault's: given to a TPM that
 * has none (a first boot, or a power cut right after it was saved), and
 * used to forgive the failures before this good unlock.
 */
export function settleLockout(log: Log): void {
  const before = lockout();
  if (before === null) return;
  if (!before.lockoutAuthSet && !existsSync(LOCKOUT_AUTH_FILE)) {
    const fd = openSync(LOCKOUT_AUTH_FILE, "wx", 0o600);
    writeSync(fd, randomBytes(32).toString("hex"));
    fsyncSync(fd);
    closeSync(fd);
  }
  if (!existsSync(LOCKOUT_AUTH_FILE)) return;
  const auth = Buffer.from(readFileSync(LOCKOUT_AUTH_FILE, "utf8").trim(), "hex");
  if (!before.lockoutAuthSet)
    log.info("vault.lockout_auth_set", {
      ok: tpmSucceeded(tpm(setLockoutAuthCommand(auth))) && lockout()?.lockoutAuthSet === true,
    });
  if (before.failures > 0 || before.inLockout) {
    log.info("vault.tries_reset", {
      ok: tpmSucceeded(tpm(resetLockoutCommand(auth))) && lockout()?.failures === 0,
      failures: before.failures,
    });
  }
  if (hasDaPolicy(before)) return;
  const set = tpmSucceeded(tpm(daParametersCommand(auth)));
  const after = lockout();
  log.info("vault.da_parameters", {
    ok: set && after !== null && hasDaPolicy(after),
    max_tries: DA_POLICY.maxTries,
    recovery_s: DA_POLICY.recoveryS,
    lockout_recovery_s: DA_POLICY.lockoutRecoveryS,
  });
}

/** Far more than a boot's audit file holds (its refusals are logged in bounded bursts). */
const AUDIT_FILE_MAX_BYTES = 256 * 1024 * 1024;

/** A regular file's audit summary, read line by line; never a link, a fifo (which would hang the read) or a device. */
function summarizeRegular(path: string): Summary {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new Error("not a regular file");
    if (stat.size > AUDIT_FILE_MAX_BYTES) throw new Error(`${stat.size} bytes, more than an audit file holds`);
    return summarize(linesOfFile(fd, AUDIT_LINE_MAX_BYTES));
  } finally {
    closeSync(fd);
  }
}

/**
 * Adds this opening to the TPM's count of them (defining the counter the
 * first time): the count before ("absent" without a counter) and after,
 * each null when the TPM did not say.
 */
function countOpening(): { before: number | "absent" | null; after: number | null } {
  const before = parseCounter(tpm(readCounterCommand()));
  if ("absent" in before) tpm(defineCounterCommand());
  const added = tpmSucceeded(tpm(incrementCommand()));
  const after = parseCounter(tpm(readCounterCommand()));
  return {
    before: "count" in before ? before.count : "absent" in before ? "absent" : null,
    after: added && "count" in after ? after.count : null,
  };
}

/**
 * The earlier boots' audit files, checked before this boot's copy joins
 * them (whoever holds the vault's key may have left anything there), and
 * this opening counted by the TPM.
 */
function checkAudit(): CopiesFound {
  const counted = countOpening();
  try {
    mkdirSync(VAULT_AUDIT, { recursive: true, mode: 0o700 });
    const copies = new Map<string, Summary>();
    const unreadable: CopiesFound["broken"] = [];
    for (const name of readdirSync(VAULT_AUDIT).filter((n) => n.endsWith(".jsonl"))) {
      try {
        copies.set(name, summarizeRegular(`${VAULT_AUDIT}/${name}`));
      } catch (error) {
        unreadable.push({
          file: name,
          reason: `unreadable: ${error instanceof Error ? error.message : String(error)}`,
        });
      }
    }
    const found = checkCopies(copies, counted.before);
    return { ...found, broken: [...unreadable, ...found.broken].slice(0, LISTED), count: counted.after };
  } catch (error) {
    return {
      earlier: 0,
      unfinished: [],
      broken: [{ file: "", reason: `reading the earlier boots' files: ${String(error)}` }],
      after: null,
      after_head: null,
      count: counted.after,
    };
  }
}

/**
 * Why the vault may not be sealed to the TPM now: the firmware's Secure
 * Boot state (vault/secure-boot.ts), or, outside test builds, a boot
 * without the owner's signed PCR 11 policy, whose seal would rest on PCR 7
 * alone.
 */
function sealRefusal(): string | null {
  const firmware = sealingRefusalNow();
  if (firmware !== null) return firmware;
  if (!ANCHOR_TEST_HOOKS && sealArguments().binding === "pcr7")
    return "this boot did not come through the owner's signed UKI (no signed PCR 11 policy)";
  return null;
}

/** Up to `length` bytes from the start of `fd`. */
function readStart(fd: number, length: number): Buffer {
  const bytes = Buffer.alloc(length);
  let got = 0;
  for (let n = -1; n !== 0 && got < length; got += n) n = readSync(fd, bytes, got, length - got, got);
  return bytes.subarray(0, got);
}

/** What the partition holds (vault/header.ts): its primary header, and only without one its first EXAMINED_BYTES. */
function examine(device: string): VaultState | "unreadable" {
  try {
    const fd = openSync(device, "r");
    try {
      return primaryState(readStart(fd, PRIMARY_BYTES)) ?? vaultState(readStart(fd, EXAMINED_BYTES));
    } finally {
      closeSync(fd);
    }
  } catch {
    return "unreadable";
  }
}

/**
 * Gives the TPM its check of the PIN (vault/pin-check.ts): anew when the
 * PIN was just chosen (`replace`), else only where there is none yet, since
 * checking an old one would cost a try if it were wrong.
 */
function keepPinCheck(log: Log, pin: string, replace: boolean): void {
  const present = parsePinCheck(tpm(readPublicCommand())) === "ok";
  if (present && !replace) return;
  if (present) tpm(undefineCommand());
  const defined = parsePinCheck(tpm(defineCommand(pin)));
  const written = defined === "ok" ? parsePinCheck(tpm(writeCommand(pin))) : defined;
  if (written === "ok") log.info("vault.pin_check", { ok: true, replaced: present });
  else
    log.error("vault.pin_check", {
      ok: false,
      replaced: present,
      error: typeof written === "string" ? written : written.error,
    });
}

let barrierRaised = false;

/**
 * Extends the barrier into PCR 11, once a boot: from then on the TPM
 * unseals the vault for nothing that runs later in this boot. Raised when
 * the vault is open, and also when this helper ends without opening it (a
 * PIN declined, a failure), so no later process of this boot can try the
 * PIN. `vault.barrier` says whether the TPM took it.
 */
function raiseBarrier(log: Log, after: "opened" | "not opened"): boolean {
  if (barrierRaised) return true;
  barrierRaised = tpmSucceeded(tpm(pcrExtendCommand(11, BARRIER)));
  if (barrierRaised) log.info("vault.barrier", { ok: true, pcr: 11, after });
  else log.error("vault.barrier", { ok: false, pcr: 11, after, error: "the TPM did not take the extend" });
  return barrierRaised;
}

function answer(request: OpenRequest, device: string, log: Log): OpenReply {
  switch (request.do) {
    case "lockout": {
      const state = lockout();
      return state === null
        ? { ok: false, reason: "unknown", error: `${TPM_DEVICE} did not answer` }
        : { ok: true, taken: state.lockoutAuthSet, insecure: sealRefusal(), partition: examine(device) };
    }
    case "provision": {
      const refused = sealRefusal();
      if (refused !== null) return { ok: false, step: "secure-boot", error: refused };
      const made = provision([device, request.disk, String(request.number)], request.pin);
      if (made.ok) keepPinCheck(log, request.pin, true);
      return made;
    }
    case "finish":
      return finishVault(device);
    case "pin": {
      const before = lockout();
      const options = `tpm2-device=auto,headless${existsSync(PCR_SIGNATURE) ? `,tpm2-signature=${PCR_SIGNATURE}` : ""}`;
      const started = performance.now();
      const attached = runVaultTool("systemd-cryptsetup", ["attach", VAULT_MAPPER, device, "-", options], {
        env: { PIN: request.pin },
      });
      if (attached.ok) {
        const attachMs = Math.round(performance.now() - started);
        keepPinCheck(log, request.pin, false);
        return { ok: true, attach_ms: attachMs };
      }
      const after = lockout();
      return { ok: false, reason: unlockFailure(before, after), tries_left: after?.triesLeft ?? null };
    }
    case "key":
      return runVaultTool("cryptsetup", ["open", "--key-file=-", device, VAULT_MAPPER], { input: request.key }).ok
        ? { ok: true }
        : { ok: false, reason: "recovery_key" };
    case "reseal": {
      const refused = sealRefusal();
      if (refused !== null) {
        log.warn("vault.resealed", { ok: false, binding: null, error: refused });
        return { ok: false, error: refused };
      }
      // Before the barrier: systemd-cryptenroll checks the signed policy against PCR 11 as it is now.
      const seal = sealArguments();
      const sealed = runVaultTool("systemd-cryptenroll", ["--wipe-slot=tpm2", ...seal.args, device], {
        env: { PASSWORD: request.key, NEWPIN: request.pin },
      });
      log.info("vault.resealed", {
        ok: sealed.ok,
        binding: seal.binding,
        ...(sealed.ok ? {} : { error: sealed.error }),
      });
      if (sealed.ok) keepPinCheck(log, request.pin, true);
      return { ok: sealed.ok };
    }
    case "mount": {
      mkdirSync(PERSIST, { recursive: true });
      const mounted = openLibc().mount(
        `/dev/mapper/${VAULT_MAPPER}`,
        PERSIST,
        "ext4",
        MS.NOSUID | MS.NODEV | MS.NOEXEC,
        "",
      );
      if (!mounted.ok) {
        // Not left open behind a failed mount: nothing could lock it again.
        const closed = runVaultTool("cryptsetup", ["close", VAULT_MAPPER]);
        return {
          ok: false,
          reason: "mount",
          error: `${mounted.message}${closed.ok ? "" : `; closing it too: ${closed.error}`}`,
        };
      }
      const barrier = raiseBarrier(log, "opened");
      // What a courier staged when the power went: never delivered, so never kept.
      rmSync(VAULT_STAGING, { recursive: true, force: true });
      return { ok: true, audit: checkAudit(), barrier };
    }
  }
}

/**
 * argv: the vault partition's device, its disk and partition number. Runs
 * the dialog (vault/dialog.ts), its prompts through bay0, and ends with it:
 * once the vault is mounted (the TPM's lockout authorization settled
 * first), or without it opened (the barrier raised), or when bay0 closes
 * its stdin (shutting down) mid-dialog.
 */
export async function runVaultOpen([device = "", disk = "", number = ""]: string[]): Promise<void> {
  const { log, ask, say, end } = talkToBay0();
  let opened = false;
  const step = (request: OpenRequest): OpenReply => {
    try {
      const reply = answer(request, device, log);
      opened ||= request.do === "mount" && reply.ok;
      return reply;
    } catch (error) {
      return { ok: false, reason: "unknown", error: String(error) };
    }
  };
  const report = (message: VaultReport): void => say(message);
  try {
    if (!/^\/dev\/[a-z0-9]+$/.test(device) || !/^\/dev\/[a-z0-9]+$/.test(disk) || !/^[1-9]\d{0,2}$/.test(number))
      throw new Error(`bad arguments: ${[device, disk, number].join(" ")}`);
    await unlockDialog(
      { log, ask, step, report, now: () => performance.now() },
      { device, disk, number: Number(number) },
    );
  } catch (error) {
    if (!opened) report({ state: "failed" });
    log.error("vault.unlock_failed", { reason: "unknown", tries_left: null, error: String(error) });
  }
  end();
  if (!opened) return void raiseBarrier(log, "not opened");
  try {
    settleLockout(log);
  } catch (error) {
    log.error("vault.lockout_auth_set", { ok: false, error: String(error) });
  }
}
