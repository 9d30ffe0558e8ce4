/**
 * What the vault helpers (vault/open.ts, vault/rekey.ts) tell bay0, one JSON
 * line on their stdout between their vault.* log records (which bay0 logs as
 * its own, init/helper.ts): each runs its dialog (vault/dialog.ts), asks bay0
 * to show its prompts, and reports where the vault stands or how a new
 * recovery key went. The secrets stay in the helpers' steps.
 */
import { z } from "zod";
import { promptRequestSchema } from "../console/protocol.ts";

/** What the earlier boots' audit files hold (audit/verify.ts), as the helper found them when it opened the vault. */
export const auditFoundSchema = z
  .object({
    earlier: z.number().int(),
    unfinished: z.array(z.string()).max(100),
    broken: z
      .array(z.object({ file: z.string(), line: z.number().int().optional(), reason: z.string() }).strict())
      .max(100),
    after: z.string().nullable(),
    after_head: z.string().nullable(),
    count: z.number().int().nullable(),
  })
  .strict();

/** Where the vault stands, as the helper's dialog (vault/dialog.ts) tells bay0: a state, or opened and how. */
export const vaultReportSchema = z.union([
  z.object({ state: z.enum(["provisioning", "not set up", "unavailable", "failed"]) }).strict(),
  z
    .object({
      opened: z
        .object({
          how: z.enum(["pin", "recovery", "provisioned"]),
          /** From the PIN's entry to the vault mounted, and systemd-cryptsetup's part of it. */
          ms: z.number().optional(),
          attach_ms: z.number().optional(),
          /** Whether the TPM took the barrier in PCR 11 (the vault cannot be unsealed again this boot). */
          barrier: z.boolean(),
          audit: auditFoundSchema.nullable(),
        })
        .strict(),
    })
    .strict(),
]);
export type VaultReport = z.infer<typeof vaultReportSchema>;

/** A new recovery key's end, as the rekey helper's dialog tells bay0: null once made, else why not. */
export const REKEYED_MAX = 500;
const rekeyedSchema = z.object({ rekeyed: z.string().max(REKEYED_MAX).nullable() }).strict();

/** What a vault helper says besides its records: a report, or a prompt for bay0 to show (answered `{answer}` on its stdin). */
export const fromVaultHelperSchema = z.union([
  vaultReportSchema,
  rekeyedSchema,
  z.object({ prompt: promptRequestSchema }).strict(),
]);
export type FromVaultHelper = z.infer<typeof fromVaultHelperSchema>;
