/**
 * What the vault helper (vault/open.ts) answers each of bay0's requests
 * with, one JSON line on its stdout between its vault.* log records (which
 * bay0 logs as its own, init/helper.ts). The requests are the helper's
 * (`OpenRequest`): they carry the secrets, and only the helper parses them.
 */
import { z } from "zod";

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
    audit: z
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
      .strict()
      .optional(),
  })
  .strict();
export type OpenReply = z.infer<typeof openReplySchema>;
