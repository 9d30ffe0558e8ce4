/**
 * bay0's audit log as it runs: chained lines in RAM from the first mount on
 * (courier/audit.ts), each line's hash extended into the TPM's PCR 15, and,
 * while the vault is open, the same lines in this boot's file in the vault,
 * so a boot's record survives only by the vault's rules. When the vault
 * opens, the earlier boots' files there are checked with the verifier the
 * host runs: a broken chain is `audit.broken`, a file whose boot never locked
 * the vault in order is named in `audit.flushed`.
 */
import { appendFileSync, closeSync, copyFileSync, existsSync, fdatasyncSync, mkdirSync, openSync, readdirSync, readFileSync, writeSync } from "node:fs";
import { AUDIT_PCR, auditRecorder, verifyAudit } from "../courier/audit.ts";
import { readTextOrNull } from "../sys/files.ts";
import type { Log, LogRecord } from "../sys/log.ts";
import { pcrExtendCommand, type TpmQueue } from "../sys/tpm-device.ts";

export const AUDIT_DIR = "/run/anchor";

export type Audit = { intoVault(dir: string): void; outOfVault(): void };

export function startAudit(
  log: Log,
  feed: { attach(target: (record: LogRecord) => void): void },
  tpmQueue: (onError: (error: string) => void) => TpmQueue,
  dir: string = AUDIT_DIR,
): Audit {
  const ramLog = `${dir}/audit.jsonl`;
  const boot = readTextOrNull("/proc/sys/kernel/random/boot_id")?.trim() ?? "unknown";
  // Named by when the boot began, so the files sort in the order of the boots.
  const fileName = `${new Date().toISOString().slice(0, 19).replaceAll(":", "")}Z-${boot}.jsonl`;
  /** This boot's file in the vault, open for appending while the vault is. */
  let copy: number | null = null;
  const append = (line: string): void => {
    appendFileSync(ramLog, line, { mode: 0o600 });
    if (copy === null) return;
    try {
      writeSync(copy, line);
      // On disk before the next record: a power cut then leaves whole records, never a tail of zeros.
      fdatasyncSync(copy);
    } catch (error) {
      closeSync(copy);
      copy = null;
      // Logged once the record being written is done: the log feeds this very function.
      queueMicrotask(() => log.error("audit.broken", { file: fileName, reason: `appending to the vault's copy: ${String(error)}` }));
    }
  };
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // One warning, not one per record: the log says once that its tail is not anchored.
    let unanchored = false;
    const unanchor = (error: string): void => {
      if (!unanchored) log.warn("audit.unanchored", { pcr: AUDIT_PCR, error });
      unanchored = true;
    };
    const hasTpm = existsSync("/dev/tpmrm0");
    if (!hasTpm) unanchor("no TPM");
    const tpm = tpmQueue(unanchor);
    feed.attach(auditRecorder(boot, append, (hash) => void (hasTpm && tpm(pcrExtendCommand(AUDIT_PCR, hash)))));
  } catch (error) {
    log.error("bay0.error", { where: "audit", error: String(error) });
  }
  return {
    intoVault(vaultDir) {
      try {
        mkdirSync(vaultDir, { recursive: true, mode: 0o700 });
        const earlier = readdirSync(vaultDir).filter((name) => name.endsWith(".jsonl") && name !== fileName).sort();
        const unfinished: string[] = [];
        for (const name of earlier) {
          const verdict = verifyAudit(readFileSync(`${vaultDir}/${name}`, "utf8"));
          if (!verdict.ok) log.error("audit.broken", { file: name, line: verdict.line, reason: verdict.reason });
          else if (!verdict.closed) unfinished.push(name);
        }
        copyFileSync(ramLog, `${vaultDir}/${fileName}`);
        copy = openSync(`${vaultDir}/${fileName}`, "a");
        fdatasyncSync(copy);
        log.info("audit.flushed", { file: fileName, earlier: earlier.length, unfinished });
      } catch (error) {
        log.error("audit.broken", { file: fileName, reason: `copying into the vault: ${String(error)}` });
      }
    },
    outOfVault() {
      if (copy === null) return;
      log.info("audit.closed", { file: fileName });
      // Closed, so that /persist can be unmounted.
      closeSync(copy);
      copy = null;
    },
  };
}
