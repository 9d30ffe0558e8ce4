/**
 * The vault: at boot the vault helper (vault/open.ts) runs its dialog
 * (vault/dialog.ts: provisioning, the PIN, the recovery key), asking bay0 to
 * show its prompts at the trusted console and telling it where the vault
 * stands; a new recovery key's dialog runs in the rekey helper (vault/rekey.ts)
 * the same way. bay0 keeps the state, the rooms' folders and the lock. No PIN
 * or key ever reaches the log.
 */
import type { CopiesFound } from "../audit/verify.ts";
import type { Ask, VaultPartition } from "../vault/dialog.ts";
import { fromVaultHelperSchema, type FromVaultHelper, type VaultReport } from "../vault/open-protocol.ts";
import { PERSIST, toolEnv, VAULT_AUDIT, VAULT_MAPPER } from "../vault/tools.ts";
import { VAULT_TOOLS } from "./layout.ts";
import type { RoomPlan } from "../rooms/plan.ts";
import { existsSync } from "node:fs";
import { MNT_DETACH, type Libc } from "../sys/libc.ts";
import type { Log } from "../sys/log.ts";
import type { Spawner } from "../sys/spawn.ts";
import { converse as converseWith } from "./helper.ts";

const TPM_DEVICE = "/dev/tpmrm0";

export type VaultDeps = {
  libc: Libc;
  log: Log;
  spawner: Spawner;
  ask: () => Ask | null;
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
  /** The machine is shutting down: a vault helper that ends now was stopped, not broken. */
  shuttingDown(): void;
};

/** A vault helper's dialog (vault/dialog.ts), as init/helper.ts `converse` runs it. */
const converse = (
  deps: VaultDeps,
  args: string[],
  ask: Ask,
  onReport: (report: Exclude<FromVaultHelper, { prompt: unknown }>) => boolean,
): Promise<string | null> => converseWith(deps, args, { prefix: "vault", reply: fromVaultHelperSchema, ask, onReport });

/** Opens (or first makes) the vault. */
export function startVault(deps: VaultDeps, partition: VaultPartition): Vault {
  const { log } = deps;
  let state: VaultState = "locked";
  const standing = (): VaultState => state;
  const writes = new Map<number, string>();
  let nextWrite = 0;
  /** What the vault helper found of the earlier boots' audit files when it opened the vault. */
  let found: CopiesFound | null = null;
  /** Whether the TPM took the barrier in PCR 11 when the vault opened: then nothing can unseal it again this boot. */
  let barrier = false;
  let ending = false;
  const opened = (report: Extract<VaultReport, { opened: unknown }>["opened"]): void => {
    state = "open";
    barrier = report.barrier;
    log.info("vault.unlocked", {
      how: report.how,
      mount: PERSIST,
      ...(report.ms === undefined ? {} : { ms: report.ms, attach_ms: report.attach_ms ?? 0 }),
    });
    found = report.audit;
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
    let said = "";
    const close = [`${VAULT_TOOLS}/bin/cryptsetup`, "close", VAULT_MAPPER];
    const closing = unmounted.ok
      ? deps.spawner.spawn(close, (_, line) => void (said = line), { env: toolEnv() })
      : null;
    const closed = await closing?.exited;
    const error = !unmounted.ok
      ? `unmounting ${PERSIST}: ${unmounted.message}`
      : closed?.status !== 0
        ? `closing it: ${said}`
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

  let rekeying = false;
  /** From the dashboard: the rekey helper's dialog (the PIN, the new key shown, the old one removed). Null once done, else why not. */
  const newRecoveryKey = async (): Promise<string | null> => {
    const ask = deps.ask();
    if (ask === null) return "no trusted console";
    if (rekeying) return "a new recovery key is being made already";
    // Held like a write: the dashboard cannot lock the vault under it.
    const done = startWrite("a new recovery key");
    if (done === null) return `the vault is ${state}`;
    rekeying = true;
    try {
      let rekeyed: string | null | undefined;
      const ended = await converse(deps, ["vault-rekey", partition.device], ask, (report) => {
        if ("rekeyed" in report) rekeyed = report.rekeyed;
        return "rekeyed" in report;
      });
      return rekeyed !== undefined ? rekeyed : (ended ?? "the vault helper ended without a word");
    } finally {
      rekeying = false;
      done();
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
    const ended = await converse(
      deps,
      ["vault-open", partition.device, partition.disk, String(partition.number)],
      ask,
      (report) => {
        if ("state" in report) state = report.state;
        else if ("opened" in report) opened(report.opened);
        // It goes on after it opened (the barrier, the lockout's reset): its exit ends the dialog.
        return false;
      },
    );
    if (ended === null || standing() === "open") return;
    if (ending) return log.info("vault.locked", { reason: "the machine shut down before it was unlocked" });
    state = "failed";
    log.error("vault.unlock_failed", { reason: "unknown", tries_left: null, error: ended });
  })().catch((error: unknown) => {
    state = "failed";
    log.error("bay0.error", { where: "vault", error: String(error) });
  });
  return {
    state: standing,
    lock,
    newRecoveryKey,
    shuttingDown: () => void (ending = true),
    writing: startWrite,
    rooms: {
      open: (plan) =>
        plan.policy.vault === undefined || state === "open"
          ? null
          : `${plan.id} needs the vault, which is ${state}${state === "locked" || state === "not set up" ? ": unlock it at the console first" : ""}`,
      // The room builder binds it (rooms/builder.ts); bay0 unbinds it, even when no builder is left (at shutdown).
      close: (plan) => {
        if (plan.policy.vault !== undefined) deps.libc.umount2(plan.dirs.vault, MNT_DETACH);
      },
    },
  };
}
