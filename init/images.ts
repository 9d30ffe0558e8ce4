/**
 * bay0's side of the image helper (rooms/mount-images.ts): starts it, logs
 * its image records as bay0's own, and returns its report, or null (logged
 * as `image.failed` with the helper's last words) when it ended without one.
 */
import { BAY0_DIR } from "../courier/sandbox.ts";
import { imageRecordSchema, imagesReportSchema, type ImagesReport } from "../rooms/images-report.ts";
import { parseJsonOrNull } from "../sys/files.ts";
import type { Log } from "../sys/log.ts";
import type { Spawner } from "../sys/spawn.ts";

export async function mountImagesByHelper(spawner: Spawner, log: Log): Promise<ImagesReport | null> {
  const got: { report: ImagesReport | null; said: string } = { report: null, said: "" };
  const child = spawner.spawn([`${BAY0_DIR}/bay0`, "mount-images"], (stream, line) => {
    const value = stream === "stdout" ? parseJsonOrNull(line) : null;
    const report = imagesReportSchema.safeParse(value);
    if (report.success) return void (got.report = report.data);
    const record = imageRecordSchema.safeParse(value);
    if (!record.success) return void (got.said = line);
    const { level, event, ts: _, ...fields } = record.data;
    log[level](event, fields);
  });
  const exit = await child.exited;
  if (got.report === null) log.error("image.failed", { reason: `the image helper ended (${exit.signal ?? `status ${exit.status}`}) without a report: ${got.said}` });
  return got.report;
}
