/**
 * bay0's audit log as it runs: chained lines in RAM from the first mount on
 * (audit/chain.ts), each line's hash extended into the TPM's PCR 15, and,
 * while the vault is open, the same lines in this boot's file in the vault,
 * so a boot's record survives only by the vault's rules. What the vault
 * helper found of the earlier boots' files when it opened the vault
 * (audit/verify.ts) is logged here: a broken chain, or a file gone
 * or cut since a later boot named it, is `audit.broken`; `audit.flushed`
 * names the files that do not end closed and the file before this boot's.
 */
import {
  appendFileSync,
  closeSync,
  copyFileSync,
  existsSync,
  fdatasyncSync,
  mkdirSync,
  openSync,
  writeSync,
} from "node:fs";
import { AUDIT_PCR, auditRecorder, LINK_EVENT } from "../audit/chain.ts";
import type { CopiesFound } from "../audit/verify.ts";
import { readTextOrNull } from "../sys/files.ts";
import type { Log, LogRecord } from "../sys/log.ts";
import { pcrExtendCommand, type TpmQueue } from "../sys/tpm-device.ts";

export const AUDIT_DIR = "/run/anchor";
/**
 * The RAM log's size bound: /run is RAM shared with everything bay0 keeps
 * there. Past it (or when /run is full) lines go only to the vault's copy,
 * while the vault is open; every record's hash still goes into PCR 15, and
 * the gap is said once in `audit.broken`.
 */
export const RAM_LOG_MAX_BYTES = 8 * 1024 * 1024;

/** `found`: what the vault helper found of the earlier boots' copies (null when the vault opens again in the same boot). */
export type Audit = { intoVault(dir: string, found: CopiesFound | null): void; outOfVault(): void };

export function startAudit(
  log: Log,
  feed: { attach(target: (record: LogRecord) => void): void },
  tpmQueue: (onError: (error: string) => void) => TpmQueue,
  dir: string = AUDIT_DIR,
  ramLogMaxBytes: number = RAM_LOG_MAX_BYTES,
): Audit {
  const ramLog = `${dir}/audit.jsonl`;
  const boot = readTextOrNull("/proc/sys/kernel/random/boot_id")?.trim() ?? "unknown";
  // Named by when the boot began, so the files sort in the order of the boots.
  const fileName = `${new Date().toISOString().slice(0, 19).replaceAll(":", "")}Z-${boot}.jsonl`;
  /** This boot's file in the vault, open for appending while the vault is. */
  let copy: number | null = null;
  let ramBytes = 0;
  let ramFailed = false;
  const append = (line: string): void => {
    if (!ramFailed) {
      try {
        if (ramBytes + line.length > ramLogMaxBytes) throw new Error(`it holds its ${ramLogMaxBytes} bytes`);
        appendFileSync(ramLog, line, { mode: 0o600 });
        ramBytes += line.length;
      } catch (error) {
        ramFailed = true;
        const reason = `appending to ${ramLog}: ${error instanceof Error ? error.message : String(error)}; later records are only in the vault's copy (while it is open) and in PCR ${AUDIT_PCR}`;
        // Logged once the record being written is done: the log feeds this very function.
        queueMicrotask(() => log.error("audit.broken", { file: "audit.jsonl", reason }));
      }
    }
    if (copy === null) return;
    try {
      writeSync(copy, line);
      // On disk before the next record: a power cut then leaves whole records, never a tail of zeros.
      fdatasyncSync(copy);
    } catch (error) {
      closeSync(copy);
      copy = null;
      // Logged once the record being written is done: the log feeds this very function.
      queueMicrotask(() =>
        log.error("audit.broken", { file: fileName, reason: `appending to the vault's copy: ${String(error)}` }),
      );
    }
  };
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // There even before the first audited record, so that the vault can take a copy of it at any time.
    appendFileSync(ramLog, "", { mode: 0o600 });
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
    intoVault(vaultDir, found) {
      try {
        for (const gap of found?.broken ?? []) log.error("audit.broken", gap);
        mkdirSync(vaultDir, { recursive: true, mode: 0o700 });
        copyFileSync(ramLog, `${vaultDir}/${fileName}`);
        copy = openSync(`${vaultDir}/${fileName}`, "a");
        fdatasyncSync(copy);
        const { earlier = 0, unfinished = [], after = null, after_head = null, count = null } = found ?? {};
        log.info(LINK_EVENT, { file: fileName, earlier, unfinished, after, after_head, count });
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
