/**
 * The vault's dialog at boot, run by the vault helper (vault/open.ts): it
 * provisions the vault when its partition is blank (or a power cut
 * interrupted provisioning), else asks for the PIN, and after a lockout or a
 * refusing TPM for the recovery key. The prompts are the trusted console's,
 * reached through bay0 (`ask`); the steps are the helper's own (`step`). It
 * tells bay0 where the vault stands (`report`) and logs the rest as the
 * vault's events. No PIN or key ever reaches the log.
 */
import { z } from "zod";
import { promptAnswerSchema, type PromptAnswer, type PromptRequest } from "../console/protocol.ts";
import { parseJsonOrNull } from "../sys/files.ts";
import { createLog, type Log } from "../sys/log.ts";
import type { CopiesFound } from "../audit/verify.ts";
import type { VaultReport } from "./open-protocol.ts";
import type { OpenRequest } from "./open.ts";
import type { RekeyRequest } from "./rekey.ts";

/** What each of the helpers' steps answers (vault/open.ts, vault/rekey.ts). */
export type OpenReply = {
  ok: boolean;
  /** Why not: `pin`, `lockout`, `pcr`, `unknown`, `recovery_key`, `absent` or `mount`. */
  reason?: string;
  error?: string;
  tries_left?: number | null;
  attach_ms?: number;
  taken?: boolean;
  /** What the vault partition holds (vault/header.ts), or that it could not be read. */
  partition?: "blank" | "provisioning" | "vault" | "damaged" | "foreign" | "unreadable";
  /** Why the firmware's state forbids sealing the vault now (vault/secure-boot.ts); null when it allows it. */
  insecure?: string | null;
  /** Once made: the recovery key (to be shown once on the screen, nowhere else) and the TPM binding; else the step that failed. */
  recovery_key?: string;
  binding?: string;
  step?: string;
  /** Once mounted: whether the TPM took the barrier in PCR 11 (the vault cannot be unsealed again this boot). */
  barrier?: boolean;
  /** Once mounted: what the earlier boots' audit files hold (audit/verify.ts). */
  audit?: CopiesFound;
};

/** The person's answers to the prompts, in order, one `{answer}` line each on stdin. */
const answerLineSchema = z.object({ answer: promptAnswerSchema }).strict();

const PIN = { minLength: 6, maxLength: 64 } as const;

export type Ask = (request: PromptRequest) => Promise<PromptAnswer>;

/** A secret typed at the prompt; null when the person gives up (Esc). */
const secret = async (
  ask: Ask,
  title: string,
  label: string,
  length: { minLength: number; maxLength: number } = PIN,
): Promise<string | null> => {
  const answer = await ask({ kind: "secret", title, label, ...length });
  return answer.kind === "secret" ? answer.value : null;
};

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

/** How long a notice that needs no answer stays (the TPM taken, Secure Boot off). */
const NOTICE_SHOWN_MS = 10 * 60_000;

export type DialogDeps = {
  log: Log;
  ask: Ask;
  step: (request: OpenRequest) => OpenReply;
  report: (report: VaultReport) => void;
  now: () => number;
};

export type VaultPartition = { device: string; disk: string; number: number };

/** A new PIN, typed twice alike; null when the person gives up (Esc). */
async function newPin(ask: Ask): Promise<string | null> {
  for (;;) {
    const pin = await secret(ask, "Vault: choose a PIN", "New PIN");
    if (pin === null || (await secret(ask, "Vault: the same PIN again", "New PIN")) === pin) return pin;
  }
}

export async function unlockDialog(deps: DialogDeps, partition: VaultPartition): Promise<void> {
  const { log, ask, step, report } = deps;
  const failed = (): void => report({ state: "failed" });

  /** `timing`: when the PIN was entered, and how long systemd-cryptsetup took (the TPM's unseal within it). */
  const mount = (how: "pin" | "recovery" | "provisioned", timing: { since: number; attachMs: number } | null): void => {
    const mounted = step({ do: "mount" });
    if (!mounted.ok) {
      failed();
      return log.error("vault.unlock_failed", { reason: "mount", error: mounted.error ?? "" });
    }
    report({
      opened: {
        how,
        ...(timing === null ? {} : { ms: Math.round(deps.now() - timing.since), attach_ms: timing.attachMs }),
        barrier: mounted.barrier === true,
        audit: mounted.audit ?? null,
      },
    });
  };

  /** `taken`: the TPM has a lockout authorization, which is not this vault's; `insecure`: why the firmware's state forbids sealing. */
  const provision = async (taken: boolean, insecure: string | null): Promise<void> => {
    /** Not set up on this machine as it stands: logged, and told to the person, who can change that in the firmware setup. */
    const refuse = async (stepName: string, error: string, title: string, lines: string[]): Promise<void> => {
      report({ state: "unavailable" });
      log.error("vault.provision_failed", { step: stepName, error });
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
    report({ state: "provisioning" });
    const made = step({ do: "provision", disk: partition.disk, number: partition.number, pin });
    if (!made.ok || made.recovery_key === undefined) {
      failed();
      return log.error("vault.provision_failed", { step: made.step ?? "?", error: made.error ?? "" });
    }
    log.info("vault.provisioned", { device: partition.device, binding: made.binding });
    // Until the person confirms, the vault is unfinished, and a power cut makes the next boot start again.
    await showRecoveryKey(ask, "Vault: your recovery key", made.recovery_key);
    const finished = step({ do: "finish" });
    if (!finished.ok) {
      failed();
      return log.error("vault.provision_failed", { step: finished.step ?? "label", error: finished.error ?? "" });
    }
    log.info("vault.finished", { device: partition.device });
    return mount("provisioned", null);
  };

  /** After a lockout or a refusing TPM: the recovery key opens the vault; after a refusal, a new PIN is sealed to the TPM as it is now. */
  const recover = async (reason: "lockout" | "pcr", insecure: string | null): Promise<void> => {
    const why =
      reason === "lockout"
        ? "the TPM is locked out after too many wrong PINs"
        : "the TPM refused: the image or firmware changed";
    for (let title = `Vault: ${why}`; ; title = "Vault: that recovery key did not open it") {
      const key = await secret(ask, title, "Recovery key", { minLength: 8, maxLength: 80 });
      if (key === null) return log.info("vault.locked", { reason: "the person did not unlock it" });
      const opened = step({ do: "key", key });
      if (!opened.ok) {
        log.warn("vault.unlock_failed", {
          reason: "recovery_key",
          tries_left: null,
          ...(opened.error === undefined ? {} : { error: opened.error }),
        });
        if (opened.error !== undefined) return failed();
        continue;
      }
      log.info("vault.recovery_used", { reason });
      // A locked-out TPM refuses to seal anything new; its token stays, and the helper forgives the failures, so the PIN works again.
      // Nor is anything sealed to a firmware whose Secure Boot is off: the recovery key opens it this time, and the next boot asks again.
      if (reason === "pcr" && insecure !== null) log.warn("vault.reseal_refused", { reason: insecure });
      const pin = reason === "pcr" && insecure === null ? await newPin(ask) : null;
      if (pin !== null) step({ do: "reseal", key, pin });
      return mount("recovery", null);
    }
  };

  const unlock = async (insecure: string | null): Promise<void> => {
    let title = "Vault: unlock";
    for (;;) {
      const pin = await secret(ask, title, "PIN");
      if (pin === null) return log.info("vault.locked", { reason: "the person did not unlock it" });
      const since = deps.now();
      const tried = step({ do: "pin", pin });
      if (tried.ok) return mount("pin", { since, attachMs: tried.attach_ms ?? 0 });
      log.warn("vault.unlock_failed", {
        reason: tried.reason ?? "unknown",
        tries_left: tried.tries_left ?? null,
        ...(tried.error === undefined ? {} : { error: tried.error }),
      });
      if (tried.reason === "lockout" || tried.reason === "pcr") return recover(tried.reason, insecure);
      // The TPM or the tools failing: another PIN would not help.
      if (tried.error !== undefined) return failed();
      title = `Vault: wrong PIN, ${tried.tries_left ?? "?"} ${tried.tries_left === 1 ? "try" : "tries"} left`;
    }
  };

  const tpm = step({ do: "lockout" });
  if (!tpm.ok) {
    report({ state: "unavailable" });
    return log.warn("vault.absent", { device: partition.device, reason: `no TPM that answers: ${tpm.error ?? ""}` });
  }
  // The helper read the partition (vault/header.ts): both LUKS2 headers, and whether it is provably empty.
  const found = tpm.partition ?? "unreadable";
  if (found === "unreadable" || found === "foreign") {
    report({ state: "unavailable" });
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
  if (found === "vault" || found === "damaged") return unlock(insecure);
  report({ state: "not set up" });
  log.info("vault.absent", {
    device: partition.device,
    reason: found === "blank" ? "not provisioned yet" : "provisioning was interrupted; starting again",
  });
  return provision(tpm.taken === true, insecure);
}

/** A new recovery key, from the dashboard: the PIN checked by the TPM, the new key shown, only then the old one removed. Null once done, else why not. */
export async function rekeyDialog(
  deps: Pick<DialogDeps, "log" | "ask"> & { step: (request: RekeyRequest) => OpenReply },
  device: string,
): Promise<string | null> {
  const { log, ask, step } = deps;
  const pin = await secret(ask, "Vault: a new recovery key replaces the old one", "PIN");
  if (pin === null) return "the recovery key stays as it is";
  const checked = step({ do: "check", pin });
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
  const made = step({ do: "enrol" });
  if (!made.ok || made.recovery_key === undefined) {
    log.error("vault.recovery_key_failed", { step: made.step ?? "?", error: made.error ?? "" });
    return `no new recovery key: ${made.error ?? "?"}`;
  }
  // Until the person confirms, the old key stays too: a power cut here loses neither.
  await showRecoveryKey(ask, "Vault: your new recovery key", made.recovery_key);
  const retired = step({ do: "retire" });
  if (!retired.ok) {
    log.error("vault.recovery_key_failed", { step: "retire", error: retired.error ?? "" });
    return `the old recovery key still opens it too: ${retired.error ?? "?"}`;
  }
  log.info("vault.recovery_key_replaced", { device });
  return null;
}

/**
 * A vault helper's side of its dialog with bay0: its records and reports on
 * stdout, and `ask`, which has bay0 show a prompt and waits for the
 * person's `{answer}` on stdin. It throws once bay0 closes stdin (shutting
 * down) or answers out of shape, which ends the dialog. `end` lets go of
 * stdin, which bay0 keeps open: until then the helper could not end.
 */
export function talkToBay0(): { log: Log; ask: Ask; say: (message: object) => void; end: () => void } {
  const say = (message: object): void => void process.stdout.write(`${JSON.stringify(message)}\n`);
  const log = createLog([(line) => void process.stdout.write(`${line}\n`)]);
  const lines = console[Symbol.asyncIterator]();
  const ask: Ask = async (request) => {
    say({ prompt: request });
    const line = await lines.next();
    if (line.done === true) throw new Error("bay0 ended the dialog");
    const answer = answerLineSchema.safeParse(parseJsonOrNull(String(line.value)));
    if (!answer.success) throw new Error(`a bad answer: ${answer.error.message.slice(0, 200)}`);
    return answer.data.answer;
  };
  return { log, ask, say, end: () => void lines.return?.(undefined) };
}
