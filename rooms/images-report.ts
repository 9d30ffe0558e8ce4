/**
 * What the image helper (rooms/mount-images.ts) tells bay0, one JSON line
 * each: its log records, which bay0 logs as its own (image events only,
 * init/helper.ts), then one report: the images it mounted and the boot disk's vault partition.
 */
import { z } from "zod";

export const imagesReportSchema = z
  .object({
    mounted: z.array(z.string()),
    vault: z.object({ device: z.string(), disk: z.string(), number: z.number().int().positive() }).strict().nullable(),
  })
  .strict();
export type ImagesReport = z.infer<typeof imagesReportSchema>;
