/**
 * The vault at boot: provisions it when its partition is blank (or a power
 * cut interrupted provisioning), else asks for the PIN at the trusted prompt
 * and opens it with systemd-cryptsetup (the PIN in its environment only),
 * then mounts /persist and extends PCR 11 with a barrier, so nothing later in
 * this boot can unseal it again. Wrong PINs are told apart from a refusing
 * TPM by the TPM's own dictionary-attack counter, read before and after.
 * No PIN or key ever reaches the log.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { createHash, randomBytes } from "node:crypto";
import { z } from "zod";
import { HEADER_BYTES, vaultState } from "../vault/header.ts";
import { GET_DA_PROPERTIES, parseLockout, resetLockoutCommand, setLockoutAuthCommand, unlockFailure, type Lockout } from "../vault/lockout.ts";
import { PCR_SIGNATURE, PERSIST, sealArguments, toolEnv, VAULT_AUDIT, VAULT_MAPPER, VAULT_ROOMS, VAULT_STAGING, VAULT_TOOLS } from "../vault/tools.ts";
import { BAY0_DIR } from "../courier/sandbox.ts";
import { hostUser, type RoomPlan } from "../rooms/plan.ts";
import { parseJsonOrNull } from "../sys/files.ts";
import { MS, type Libc } from "../sys/libc.ts";
import { bindVaultFolder, unbindVaultFolder } from "../sys/vault-folders.ts";
import type { Log } from "../sys/log.ts";
import type { Spawner } from "../sys/spawn.ts";
import type { ToolRunner } from "../sys/tool.ts";
import { pcrExtendCommand, tpmSucceeded, type TpmQueue } from "../sys/tpm-device.ts";
import type { PromptAnswer, PromptRequest } from "./console/prompt.ts";

const PIN = { minLength: 6, maxLength: 64 } as const;
const TPM_DEVICE = "/dev/tpmrm0";
/** What nothing may unseal after: the word extended into PCR 11 once the vault is open. */
const BARRIER = createHash("sha256").update("anchor-vault-opened").digest("hex");
const RECOVERY_SHOWN_MS = 10 * 60_000;
/** The TPM's lockout authorization, inside the vault only: whoever holds it may reset the dictionary-attack counter. */
const LOCKOUT_AUTH_FILE = `${PERSIST}/.tpm-lockout-auth`;
const provisioned = z.union([
  z.object({ ok: z.literal(true), recovery_key: z.string().regex(/^[a-z]{8}(-[a-z]{8}){7}$/), binding: z.string() }),
  z.object({ ok: z.literal(false), step: z.string(), error: z.string() }),
]);

export type VaultDeps = {
  libc: Libc;
  log: Log;
  spawner: Spawner;
  tool: ToolRunner;
  tpm: TpmQueue;
  readHead: (device: string, bytes: number) => Promise<Uint8Array | null>;
  ask: () => ((request: PromptRequest) => Promise<PromptAnswer>) | null;
  /** Stops every room that sees the vault; their ids. */
  stopRooms: () => Promise<string[]>;
  /** The audit log's copy in the vault (init/audit.ts): begun once it is open, ended before it locks. */
  audit: { intoVault(dir: string): void; outOfVault(): void };
};

export type VaultPartition = { device: string; disk: string; number: number };

type Ask = (request: PromptRequest) => Promise<PromptAnswer>;

const secret = async (ask: Ask, title: string, label: string, length: { minLength: number; maxLength: number } = PIN): Promise<string | null> => {
  const answer = await ask({ kind: "secret", title, label, ...length });
  return answer.kind === "secret" ? answer.value : null;
};

/** A new PIN, typed twice alike; null when the person gives up (Esc). */
async function newPin(ask: Ask): Promise<string | null> {
  for (;;) {
    const pin = await secret(ask, "Vault: choose a PIN", "New PIN");
    if (pin === null || (await secret(ask, "Vault: the same PIN again", "New PIN")) === pin) return pin;
  }
}

export type Vault = {
  /** Where it stands, for the trust line and the dashboard. */
  state: () => string;
  /** A room's folder for the supervisor: bound at plan.dirs.vault, or why not. */
  rooms: { open(plan: RoomPlan): string | null; close(plan: RoomPlan): void };
  /** Holds the open vault while `what` writes into it (the release), or null when it is not open. */
  writing(what: string): (() => void) | null;
  /**
   * Stops the rooms that see it, ends the audit log's copy, unmounts
   * /persist and closes dm-crypt, which wipes the volume key: null once
   * locked, else why not. From the dashboard it refuses while a write
   * is in progress; at shutdown those writers are already gone.
   */
  lock(reason: "dashboard" | "shutdown"): Promise<string | null>;
};


/** Opens (or first makes) the vault. */
export function startVault(deps: VaultDeps, partition: VaultPartition): Vault {
  const { log } = deps;
  let state = "locked";
  const writes = new Map<number, string>();
  let nextWrite = 0;
  const lockout = async (): Promise<Lockout | null> => {
    const reply = await deps.tpm(GET_DA_PROPERTIES);
    return reply === null ? null : parseLockout(reply);
  };
  /**
   * Keeps the TPM's lockout authorization the vault's: given to a TPM that
   * has none (a first boot, or a power cut right after it was saved), and
   * used to forgive the failures before this good unlock.
   */
  const settleLockout = async (): Promise<void> => {
    const before = await lockout();
    if (before === null) return;
    if (!before.lockoutAuthSet && !existsSync(LOCKOUT_AUTH_FILE)) {
      const fd = openSync(LOCKOUT_AUTH_FILE, "wx", 0o600);
      writeSync(fd, randomBytes(32).toString("hex"));
      fsyncSync(fd);
      closeSync(fd);
    }
    if (!existsSync(LOCKOUT_AUTH_FILE)) return;
    const auth = Buffer.from(readFileSync(LOCKOUT_AUTH_FILE, "utf8").trim(), "hex");
    if (!before.lockoutAuthSet) {
      const reply = await deps.tpm(setLockoutAuthCommand(auth));
      log.info("vault.lockout_auth_set", { ok: tpmSucceeded(reply) && (await lockout())?.lockoutAuthSet === true });
    }
    if (before.failures === 0 && !before.inLockout) return;
    const reply = await deps.tpm(resetLockoutCommand(auth));
    log.info("vault.tries_reset", { ok: tpmSucceeded(reply) && (await lockout())?.failures === 0, failures: before.failures });
  };
  /** `timing`: when the PIN was entered, and how long systemd-cryptsetup took (the TPM's unseal within it). */
  const mountPersist = (how: string, timing: { since: number; attachMs: number } | null = null): void => {
    mkdirSync(PERSIST, { recursive: true });
    const mounted = deps.libc.mount(`/dev/mapper/${VAULT_MAPPER}`, PERSIST, "ext4", MS.NOSUID | MS.NODEV | MS.NOEXEC, "");
    if (!mounted.ok) {
      state = "failed";
      log.error("vault.unlock_failed", { reason: "mount", error: mounted.message });
      return;
    }
    void deps.tpm(pcrExtendCommand(11, BARRIER));
    // What a courier staged when the power went: never delivered, so never kept.
    rmSync(VAULT_STAGING, { recursive: true, force: true });
    state = "open";
    log.info("vault.unlocked", { how, mount: PERSIST, ...(timing === null ? {} : { ms: Math.round(performance.now() - timing.since), attach_ms: Math.round(timing.attachMs) }) });
    deps.audit.intoVault(VAULT_AUDIT);
    settleLockout().catch((error: unknown) => log.error("vault.lockout_auth_set", { ok: false, error: String(error) }));
  };

  const lock = async (reason: "dashboard" | "shutdown"): Promise<string | null> => {
    if (state !== "open") return `the vault is ${state}`;
    const busy = [...writes.values()];
    if (reason === "dashboard" && busy.length > 0) return `a write into the vault is in progress: ${busy.join(", ")}`;
    state = "locking";
    const stopped = await deps.stopRooms();
    deps.audit.outOfVault();
    deps.libc.sync();
    const unmounted = deps.libc.umount2(PERSIST, 0);
    const closed = unmounted.ok ? await deps.tool([`${VAULT_TOOLS}/bin/cryptsetup`, "close", VAULT_MAPPER], { env: toolEnv() }) : null;
    const error = !unmounted.ok ? `unmounting ${PERSIST}: ${unmounted.message}` : closed?.status !== 0 ? `closing it: ${closed?.stderr.trim().split("\n").at(-1) ?? ""}` : null;
    if (error !== null) {
      state = unmounted.ok ? "failed" : "open";
      log.error("vault.lock_failed", { reason, error });
      // Still mounted: the audit log's copy carries on.
      if (!unmounted.ok) deps.audit.intoVault(VAULT_AUDIT);
      return error;
    }
    // Unlocking again would need the TPM, which the barrier in PCR 11 now refuses until the next boot.
    state = "locked until reboot";
    log.info("vault.locked", { reason, rooms_stopped: stopped });
    return null;
  };

  const provision = async (ask: Ask): Promise<void> => {
    if ((await lockout())?.lockoutAuthSet === true) {
      state = "unavailable";
      log.error("vault.provision_failed", { step: "lockout-auth", error: "the TPM already has a lockout authorization that is not this vault's" });
      await ask({
        kind: "choice",
        title: "Vault: this TPM is already taken",
        lines: ["It has a lockout password Anchor OS does not know,", "so the vault could not guard its PIN against guessing.", "Clear the TPM in the firmware setup, then boot again."],
        choices: ["OK"],
        timeoutMs: RECOVERY_SHOWN_MS,
      });
      return;
    }
    const pin = await newPin(ask);
    if (pin === null) return log.warn("vault.absent", { reason: "the person declined to set it up this boot" });
    log.info("vault.provisioning", { device: partition.device });
    state = "provisioning";
    let said = "";
    const child = deps.spawner.spawn([`${BAY0_DIR}/bay0`, "vault-provision", partition.device, partition.disk, String(partition.number)], (stream, line) => {
      if (stream === "stdout") said = line;
    }, { env: { NEWPIN: pin } });
    await child.exited;
    const result = provisioned.safeParse(parseJsonOrNull(said));
    if (!result.success || !result.data.ok) {
      state = "failed";
      return log.error("vault.provision_failed", result.success && !result.data.ok ? { step: result.data.step, error: result.data.error } : { error: "no result" });
    }
    log.info("vault.provisioned", { device: partition.device, binding: result.data.binding });
    const words = result.data.recovery_key.split("-");
    await ask({
      kind: "choice",
      title: "Vault: your recovery key",
      lines: ["Write it down now; it is shown only this once.", "It opens the vault if the PIN or the TPM fail.", "", words.slice(0, 4).join("-"), words.slice(4).join("-")],
      choices: ["I have written it down"],
      timeoutMs: RECOVERY_SHOWN_MS,
    });
    return mountPersist("provisioned");
  };

  /** After a lockout or a refusing TPM: the recovery key opens the vault; after a refusal, a new PIN is sealed to the TPM as it is now. */
  const recover = async (ask: Ask, reason: "lockout" | "pcr"): Promise<void> => {
    const why = reason === "lockout" ? "the TPM is locked out after too many wrong PINs" : "the TPM refused: the image or firmware changed";
    for (let title = `Vault: ${why}`; ; title = "Vault: that recovery key did not open it") {
      const key = await secret(ask, title, "Recovery key", { minLength: 8, maxLength: 80 });
      if (key === null) return log.info("vault.locked", { reason: "the person did not unlock it" });
      const opened = await deps.tool([`${VAULT_TOOLS}/bin/cryptsetup`, "open", "--key-file=-", partition.device, VAULT_MAPPER], { env: toolEnv(), input: key });
      if (opened.status !== 0) {
        log.warn("vault.unlock_failed", { reason: "recovery_key", tries_left: null });
        continue;
      }
      log.info("vault.recovery_used", { reason });
      // A locked-out TPM refuses to seal anything new; its token stays, and settleLockout forgives the failures, so the PIN works again.
      const pin = reason === "pcr" ? await newPin(ask) : null;
      if (pin !== null) {
        // Before the barrier: systemd-cryptenroll checks the signed policy against PCR 11 as it is now.
        const seal = sealArguments();
        const sealed = await deps.tool([`${VAULT_TOOLS}/bin/systemd-cryptenroll`, "--wipe-slot=tpm2", ...seal.args, partition.device], { env: { ...toolEnv(), PASSWORD: key, NEWPIN: pin } });
        log.info("vault.resealed", { ok: sealed.status === 0, binding: seal.binding, ...(sealed.status === 0 ? {} : { error: sealed.stderr.trim().split("\n").at(-1) ?? "" }) });
      }
      return mountPersist("recovery");
    }
  };

  const unlock = async (ask: Ask): Promise<void> => {
    let title = "Vault: unlock";
    for (;;) {
      const pin = await secret(ask, title, "PIN");
      if (pin === null) return log.info("vault.locked", { reason: "the person did not unlock it" });
      const since = performance.now();
      const before = await lockout();
      const options = `tpm2-device=auto,headless${existsSync(PCR_SIGNATURE) ? `,tpm2-signature=${PCR_SIGNATURE}` : ""}`;
      const attached = performance.now();
      const result = await deps.tool([`${VAULT_TOOLS}/bin/systemd-cryptsetup`, "attach", VAULT_MAPPER, partition.device, "-", options], { env: { ...toolEnv(), PIN: pin } });
      if (result.status === 0) return mountPersist("pin", { since, attachMs: performance.now() - attached });
      const after = await lockout();
      const reason = unlockFailure(before, after);
      log.warn("vault.unlock_failed", { reason, tries_left: after?.triesLeft ?? null });
      if (reason === "lockout" || reason === "pcr") return recover(ask, reason);
      title = `Vault: wrong PIN, ${after?.triesLeft ?? "?"} ${after?.triesLeft === 1 ? "try" : "tries"} left`;
    }
  };

  void (async () => {
    const header = await deps.readHead(partition.device, HEADER_BYTES);
    const found = header === null ? "unreadable" : vaultState(header);
    const ask = deps.ask();
    // Sealed to the TPM or nothing: without one there is no vault, and no prompt asks for it.
    const missing = !existsSync(TPM_DEVICE) ? "no TPM" : ask === null ? "no trusted console to ask for the PIN" : found === "unreadable" || found === "foreign" ? `the partition is ${found}` : null;
    if (missing !== null || ask === null) {
      state = "unavailable";
      return log.warn("vault.absent", { device: partition.device, reason: missing });
    }
    if (found === "vault") return unlock(ask);
    state = "not set up";
    log.info("vault.absent", { device: partition.device, reason: found === "blank" ? "not provisioned yet" : "provisioning was interrupted; starting again" });
    return provision(ask);
  })().catch((error: unknown) => {
    state = "failed";
    log.error("bay0.error", { where: "vault", error: String(error) });
  });
  return {
    state: () => state,
    lock,
    writing: (what) => {
      if (state !== "open") return null;
      const id = nextWrite++;
      writes.set(id, what);
      return () => writes.delete(id);
    },
    rooms: {
      open: (plan) => {
        const folder = plan.policy.vault?.folder;
        if (folder === undefined) return null;
        if (state !== "open") return `${plan.id} needs the vault, which is ${state}${state === "locked" || state === "not set up" ? ": unlock it at the console first" : ""}`;
        return bindVaultFolder(deps.libc, VAULT_ROOMS, folder, hostUser(plan.policy), plan.dirs.vault);
      },
      close: (plan) => {
        if (plan.policy.vault !== undefined) unbindVaultFolder(deps.libc, plan.dirs.vault);
      },
    },
  };
}
