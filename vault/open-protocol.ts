/**
 * What the vault helpers (vault/open.ts, vault/rekey.ts) tell bay0, one JSON
 * line on their stdout between their vault.* log records (which bay0 logs as
 * its own, init/helper.ts): the opening helper runs the dialog and reports
 * where the vault stands; the rekey helper answers bay0's requests. The
 * requests are the helpers' (`OpenRequest`): they carry the secrets, and only
 * the helpers parse them.
 */
import { z } from "zod";
import { promptRequestSchema } from "../console/protocol.ts";

/** What the earlier boots' audit files hold (audit/verify.ts), as the helper found them when it opened the vault. */
const auditFoundSchema = z
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

export const openReplySchema = z
  .object({
    ok: z.boolean(),
    /** Why not: `pin`, `lockout`, `pcr`, `unknown`, `recovery_key` or `mount`. */
    reason: z.string().optional(),
    error: z.string().optional(),
    tries_left: z.number().int().nullable().optional(),
    attach_ms: z.number().optional(),
    taken: z.boolean().optional(),
    /** What the vault partition holds (vault/header.ts), or that it could not be read. */
    partition: z.enum(["blank", "provisioning", "vault", "damaged", "foreign", "unreadable"]).optional(),
    /** Why the firmware's state forbids sealing the vault now (vault/secure-boot.ts); null when it allows it. */
    insecure: z.string().nullable().optional(),
    /** Once provisioned: the recovery key (for bay0 to show once on the screen, nowhere else) and the TPM binding; else the step that failed. */
    recovery_key: z
      .string()
      .regex(/^[a-z]{8}(-[a-z]{8}){7}$/)
      .optional(),
    binding: z.string().optional(),
    step: z.string().optional(),
    /** Once mounted: whether the TPM took the barrier in PCR 11 (the vault cannot be unsealed again this boot). */
    barrier: z.boolean().optional(),
    /** Once mounted: what the earlier boots' audit files hold (audit/verify.ts). */
    audit: auditFoundSchema.optional(),
  })
  .strict();
export type OpenReply = z.infer<typeof openReplySchema>;

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

/** What the opening helper says besides its records: a report, or a prompt for bay0 to show (answered `{answer}` on its stdin). */
export const fromVaultOpenSchema = z.union([vaultReportSchema, z.object({ prompt: promptRequestSchema }).strict()]);
