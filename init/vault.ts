/**
 * The vault at boot: provisions it when its partition is blank (or a power
 * cut interrupted provisioning), else asks for the PIN at the trusted prompt
 * and has the vault helper (vault/open.ts) open and mount it; after a
 * lockout or a refusing TPM, the recovery key. bay0 keeps the prompts, the
 * state, the rooms' folders and the lock. No PIN or key ever reaches the log.
 */
import type { CopiesFound } from "../audit/verify.ts";
import type { OpenRequest } from "../vault/open.ts";
import type { RekeyRequest } from "../vault/rekey.ts";
import { openReplySchema, type OpenReply } from "../vault/open-protocol.ts";
import { PERSIST, toolEnv, VAULT_AUDIT, VAULT_MAPPER, VAULT_ROOMS } from "../vault/tools.ts";
import { VAULT_TOOLS } from "./layout.ts";
import { hostUser, type RoomPlan } from "../rooms/plan.ts";
import { existsSync } from "node:fs";
import type { Libc } from "../sys/libc.ts";
import { bindVaultFolder, unbindVaultFolder } from "../sys/vault-folders.ts";
import type { Log } from "../sys/log.ts";
import type { Spawner } from "../sys/spawn.ts";
import type { ToolRunner } from "../sys/tool.ts";
import type { PromptAnswer, PromptRequest } from "../console/protocol.ts";
import { openHelperSession, type HelperSession } from "./helper.ts";

const PIN = { minLength: 6, maxLength: 64 } as const;
const TPM_DEVICE = "/dev/tpmrm0";
/** How long a notice that needs no answer stays (the TPM taken, Secure Boot off). */
const NOTICE_SHOWN_MS = 10 * 60_000;

export type VaultDeps = {
  libc: Libc;
  log: Log;
  spawner: Spawner;
  tool: ToolRunner;
  ask: () => ((request: PromptRequest) => Promise<PromptAnswer>) | null;
  /** Stops every room that sees the vault; their ids. */
  stopRooms: () => Promise<string[]>;
  /** Where the TPM's resource manager is: no vault without it (tests name one that is there). */
  tpmDevice?: string;
  /** The audit log's copy in the vault (init/audit.ts): begun once it is open, ended before it locks. */
  audit: { intoVault(dir: string, found: CopiesFound | null): void; outOfVault(): void };
};

/** Where the vault stands, as the dashboard shows it and the rooms' checks compare it. */
export type VaultState =
  "locked" | "locked until reboot" | "open" | "locking" | "provisioning" | "failed" | "unavailable" | "not set up";

export type VaultPartition = { device: string; disk: string; number: number };

type Ask = (request: PromptRequest) => Promise<PromptAnswer>;

const secret = async (
  ask: Ask,
  title: string,
  label: string,
  length: { minLength: number; maxLength: number } = PIN,
): Promise<string | null> => {
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

/** Only Enter on its one choice ends it: no Esc, no timeout. */
async function showRecoveryKey(ask: Ask, title: string, key: string): Promise<void> {
  const words = key.split("-");
  await ask({
    kind: "confirm",
    title,
    lines: [
      "Write it down now; it is shown only this once.",
      "It opens the vault if the PIN or the TPM fail.",
      "",
      words.slice(0, 4).join("-"),
      words.slice(4).join("-"),
    ],
    choice: "I have written it down",
  });
}

export type Vault = {
  /** Where it stands, for the trust line and the dashboard. */
  state: () => VaultState;
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
  /** From the dashboard: the PIN checked by the TPM, a new recovery key shown, then the old one removed; null once done, else why not. */
  newRecoveryKey(): Promise<string | null>;
};

type Session<Request> = HelperSession<Request, OpenReply>;

/** A vault helper (vault/open.ts, vault/rekey.ts); once it has ended, every request is answered with why. */
const openSession = <Request>(deps: VaultDeps, mode: "vault-open" | "vault-rekey", device: string): Session<Request> =>
  openHelperSession(deps, [mode, device], {
    prefix: "vault",
    reply: openReplySchema,
    gone: (exit, words) => ({ ok: false, reason: "unknown", error: `the vault helper ended (${exit}): ${words}` }),
  });

/** Opens (or first makes) the vault. */
export function startVault(deps: VaultDeps, partition: VaultPartition): Vault {
  const { log } = deps;
  let state: VaultState = "locked";
  const writes = new Map<number, string>();
  let nextWrite = 0;
  /** What the vault helper found of the earlier boots' audit files when it opened the vault. */
  let found: CopiesFound | null = null;
  /** Whether the TPM took the barrier in PCR 11 when the vault opened: then nothing can unseal it again this boot. */
  let barrier = false;
  /** `timing`: when the PIN was entered, and how long systemd-cryptsetup took (the TPM's unseal within it). */
  const mount = async (
    session: Session<OpenRequest>,
    how: string,
    timing: { since: number; attachMs: number } | null = null,
  ): Promise<void> => {
    const mounted = await session.ask({ do: "mount" });
    if (!mounted.ok) {
      state = "failed";
      return log.error("vault.unlock_failed", { reason: "mount", error: mounted.error ?? "" });
    }
    state = "open";
    barrier = mounted.barrier === true;
    log.info("vault.unlocked", {
      how,
      mount: PERSIST,
      ...(timing === null ? {} : { ms: Math.round(performance.now() - timing.since), attach_ms: timing.attachMs }),
    });
    found = mounted.audit ?? null;
    deps.audit.intoVault(VAULT_AUDIT, found);
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
    const closed = unmounted.ok
      ? await deps.tool([`${VAULT_TOOLS}/bin/cryptsetup`, "close", VAULT_MAPPER], { env: toolEnv() })
      : null;
    const error = !unmounted.ok
      ? `unmounting ${PERSIST}: ${unmounted.message}`
      : closed?.status !== 0
        ? `closing it: ${closed?.stderr.trim().split("\n").at(-1) ?? ""}`
        : null;
    if (error !== null) {
      state = unmounted.ok ? "failed" : "open";
      log.error("vault.lock_failed", { reason, error });
      // Still mounted: the audit log's copy carries on.
      if (!unmounted.ok) deps.audit.intoVault(VAULT_AUDIT, found);
      return error;
    }
    // Unlocking again would need the TPM, which the barrier in PCR 11 now refuses until the next boot, if the TPM took it.
    state = barrier ? "locked until reboot" : "locked";
    log.info("vault.locked", { reason, rooms_stopped: stopped });
    return null;
  };

  /** `taken`: the TPM has a lockout authorization, which is not this vault's; `insecure`: why the firmware's state forbids sealing. */
  const provision = async (
    ask: Ask,
    session: Session<OpenRequest>,
    taken: boolean,
    insecure: string | null,
  ): Promise<void> => {
    /** Not set up on this machine as it stands: logged, and told to the person, who can change that in the firmware setup. */
    const refuse = async (step: string, error: string, title: string, lines: string[]): Promise<void> => {
      state = "unavailable";
      log.error("vault.provision_failed", { step, error });
      await ask({ kind: "choice", title, lines, choices: ["OK"], timeoutMs: NOTICE_SHOWN_MS });
    };
    if (insecure !== null) {
      return refuse("secure-boot", insecure, "Vault: not set up on this firmware", [
        `${insecure}.`,
        "A vault sealed now would trust whatever it boots.",
        "Turn Secure Boot on in the firmware setup,",
        "then boot again.",
      ]);
    }
    if (taken) {
      return refuse(
        "lockout-auth",
        "the TPM already has a lockout authorization that is not this vault's",
        "Vault: this TPM is already taken",
        [
          "It has a lockout password Anchor OS does not know,",
          "so the vault could not guard its PIN against guessing.",
          "Clear the TPM in the firmware setup, then boot again.",
        ],
      );
    }
    const pin = await newPin(ask);
    if (pin === null) return log.warn("vault.absent", { reason: "the person declined to set it up this boot" });
    log.info("vault.provisioning", { device: partition.device });
    state = "provisioning";
    const made = await session.ask({ do: "provision", disk: partition.disk, number: partition.number, pin });
    if (!made.ok || made.recovery_key === undefined) {
      state = "failed";
      return log.error("vault.provision_failed", { step: made.step ?? "?", error: made.error ?? "" });
    }
    log.info("vault.provisioned", { device: partition.device, binding: made.binding });
    // Until the person confirms, the vault is unfinished, and a power cut makes the next boot start again.
    await showRecoveryKey(ask, "Vault: your recovery key", made.recovery_key);
    const finished = await session.ask({ do: "finish" });
    if (!finished.ok) {
      state = "failed";
      return log.error("vault.provision_failed", { step: finished.step ?? "label", error: finished.error ?? "" });
    }
    log.info("vault.finished", { device: partition.device });
    return mount(session, "provisioned");
  };

  /** After a lockout or a refusing TPM: the recovery key opens the vault; after a refusal, a new PIN is sealed to the TPM as it is now. */
  const recover = async (
    ask: Ask,
    session: Session<OpenRequest>,
    reason: "lockout" | "pcr",
    insecure: string | null,
  ): Promise<void> => {
    const why =
      reason === "lockout"
        ? "the TPM is locked out after too many wrong PINs"
        : "the TPM refused: the image or firmware changed";
    for (let title = `Vault: ${why}`; ; title = "Vault: that recovery key did not open it") {
      const key = await secret(ask, title, "Recovery key", { minLength: 8, maxLength: 80 });
      if (key === null) return log.info("vault.locked", { reason: "the person did not unlock it" });
      const opened = await session.ask({ do: "key", key });
      if (!opened.ok) {
        log.warn("vault.unlock_failed", {
          reason: "recovery_key",
          tries_left: null,
          ...(opened.error === undefined ? {} : { error: opened.error }),
        });
        if (opened.error !== undefined) return void (state = "failed");
        continue;
      }
      log.info("vault.recovery_used", { reason });
      // A locked-out TPM refuses to seal anything new; its token stays, and the helper forgives the failures, so the PIN works again.
      // Nor is anything sealed to a firmware whose Secure Boot is off: the recovery key opens it this time, and the next boot asks again.
      if (reason === "pcr" && insecure !== null) log.warn("vault.reseal_refused", { reason: insecure });
      const pin = reason === "pcr" && insecure === null ? await newPin(ask) : null;
      if (pin !== null) await session.ask({ do: "reseal", key, pin });
      return mount(session, "recovery");
    }
  };

  const unlock = async (ask: Ask, session: Session<OpenRequest>, insecure: string | null): Promise<void> => {
    let title = "Vault: unlock";
    for (;;) {
      const pin = await secret(ask, title, "PIN");
      if (pin === null) return log.info("vault.locked", { reason: "the person did not unlock it" });
      const since = performance.now();
      const tried = await session.ask({ do: "pin", pin });
      if (tried.ok) return mount(session, "pin", { since, attachMs: tried.attach_ms ?? 0 });
      log.warn("vault.unlock_failed", {
        reason: tried.reason ?? "unknown",
        tries_left: tried.tries_left ?? null,
        ...(tried.error === undefined ? {} : { error: tried.error }),
      });
      if (tried.reason === "lockout" || tried.reason === "pcr") return recover(ask, session, tried.reason, insecure);
      // The helper gone or refusing: another PIN would not help.
      if (tried.error !== undefined) return void (state = "failed");
      title = `Vault: wrong PIN, ${tried.tries_left ?? "?"} ${tried.tries_left === 1 ? "try" : "tries"} left`;
    }
  };

  let rekeying = false;
  const newRecoveryKey = async (): Promise<string | null> => {
    const ask = deps.ask();
    if (ask === null) return "no trusted console";
    if (rekeying) return "a new recovery key is being made already";
    // Held like a write: the dashboard cannot lock the vault under it.
    const done = startWrite("a new recovery key");
    if (done === null) return `the vault is ${state}`;
    rekeying = true;
    try {
      const pin = await secret(ask, "Vault: a new recovery key replaces the old one", "PIN");
      return pin === null ? "the recovery key stays as it is" : await rekey(ask, pin);
    } finally {
      rekeying = false;
      done();
    }
  };
  const rekey = async (ask: Ask, pin: string): Promise<string | null> => {
    const session = openSession<RekeyRequest>(deps, "vault-rekey", partition.device);
    try {
      const checked = await session.ask({ do: "check", pin });
      if (!checked.ok) {
        log.warn("vault.recovery_key_refused", {
          reason: checked.reason ?? "unknown",
          tries_left: checked.tries_left ?? null,
          ...(checked.error === undefined ? {} : { error: checked.error }),
        });
        return checked.reason === "pin"
          ? `wrong PIN, ${checked.tries_left ?? "?"} ${checked.tries_left === 1 ? "try" : "tries"} left`
          : (checked.error ?? checked.reason ?? "refused");
      }
      const made = await session.ask({ do: "enrol" });
      if (!made.ok || made.recovery_key === undefined) {
        log.error("vault.recovery_key_failed", { step: made.step ?? "?", error: made.error ?? "" });
        return `no new recovery key: ${made.error ?? "?"}`;
      }
      // Until the person confirms, the old key stays too: a power cut here loses neither.
      await showRecoveryKey(ask, "Vault: your new recovery key", made.recovery_key);
      const retired = await session.ask({ do: "retire" });
      if (!retired.ok) {
        log.error("vault.recovery_key_failed", { step: "retire", error: retired.error ?? "" });
        return `the old recovery key still opens it too: ${retired.error ?? "?"}`;
      }
      log.info("vault.recovery_key_replaced", { device: partition.device });
      return null;
    } finally {
      session.end();
    }
  };

  const startWrite = (what: string): (() => void) | null => {
    if (state !== "open") return null;
    const id = nextWrite++;
    writes.set(id, what);
    return () => void writes.delete(id);
  };

  void (async () => {
    const ask = deps.ask();
    // Sealed to the TPM or nothing: without one there is no vault, and no prompt asks for it.
    const missing = !existsSync(deps.tpmDevice ?? TPM_DEVICE)
      ? "no TPM"
      : ask === null
        ? "no trusted console to ask for the PIN"
        : null;
    if (missing !== null || ask === null) {
      state = "unavailable";
      return log.warn("vault.absent", { device: partition.device, reason: missing });
    }
    // Started before the first prompt, so it is ready when the PIN is; it ends with this boot's one unlock.
    const session = openSession<OpenRequest>(deps, "vault-open", partition.device);
    try {
      const tpm = await session.ask({ do: "lockout" });
      if (!tpm.ok) {
        state = "unavailable";
        return log.warn("vault.absent", {
          device: partition.device,
          reason: `no TPM that answers: ${tpm.error ?? ""}`,
        });
      }
      // The helper read the partition (vault/header.ts): both LUKS2 headers, and whether it is provably empty.
      const found = tpm.partition ?? "unreadable";
      if (found === "unreadable" || found === "foreign") {
        state = "unavailable";
        return log.warn("vault.absent", {
          device: partition.device,
          reason:
            found === "unreadable"
              ? "the partition is unreadable"
              : "the partition holds something that is neither empty nor a vault; it is never set up over",
        });
      }
      const insecure = tpm.insecure ?? null;
      if (found === "damaged")
        log.warn("vault.header_damaged", {
          device: partition.device,
          reason: "its first LUKS2 header is damaged; its second header opens it",
        });
      if (found === "vault" || found === "damaged") return await unlock(ask, session, insecure);
      state = "not set up";
      log.info("vault.absent", {
        device: partition.device,
        reason: found === "blank" ? "not provisioned yet" : "provisioning was interrupted; starting again",
      });
      return await provision(ask, session, tpm.taken === true, insecure);
    } finally {
      session.end();
    }
  })().catch((error: unknown) => {
    state = "failed";
    log.error("bay0.error", { where: "vault", error: String(error) });
  });
  return {
    state: () => state,
    lock,
    newRecoveryKey,
    writing: startWrite,
    rooms: {
      open: (plan) => {
        const folder = plan.policy.vault?.folder;
        if (folder === undefined) return null;
        if (state !== "open")
          return `${plan.id} needs the vault, which is ${state}${state === "locked" || state === "not set up" ? ": unlock it at the console first" : ""}`;
        return bindVaultFolder(deps.libc, VAULT_ROOMS, folder, hostUser(plan.policy), plan.dirs.vault);
      },
      close: (plan) => {
        if (plan.policy.vault !== undefined) unbindVaultFolder(deps.libc, plan.dirs.vault);
      },
    },
  };
}
