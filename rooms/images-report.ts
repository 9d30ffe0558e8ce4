/**
 * What the image helper (rooms/mount-images.ts) tells bay0, one JSON line
 * each: its log records, which bay0 logs as its own (image events only,
 * init/helper.ts), then one report: the images it mounted, the boot disk's vault partition, and
 * the image's room policies as the plain data of their TOML (which bay0 validates again) with the
 * problems of those it rejected.
 */
import { z } from "zod";

export const imagesReportSchema = z
  .object({
    mounted: z.array(z.string()),
    vault: z.object({ device: z.string(), disk: z.string(), number: z.number().int().positive() }).strict().nullable(),
    policies: z.array(z.record(z.string(), z.unknown())),
    rejected: z.array(
      z.object({ file: z.string(), line: z.number(), column: z.number(), field: z.string(), message: z.string() }),
    ),
  })
  .strict();
export type ImagesReport = z.infer<typeof imagesReportSchema>;
