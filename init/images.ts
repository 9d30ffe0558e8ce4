/**
 * bay0's side of the image helper (rooms/mount-images.ts): starts it, logs
 * its image records as bay0's own, and returns its report, or null (logged
 * as `image.failed` with the helper's last words) when it ended without one.
 */
import { imagesReportSchema, type ImagesReport } from "../rooms/images-report.ts";
import type { Log } from "../sys/log.ts";
import type { Spawner } from "../sys/spawn.ts";
import { exitText, startHelper } from "./helper.ts";

export async function mountImagesByHelper(spawner: Spawner, log: Log): Promise<ImagesReport | null> {
  const got: { report: ImagesReport | null } = { report: null };
  const helper = startHelper({ spawner, log }, ["mount-images"], { prefix: "image", reply: imagesReportSchema, onReply: (report) => void (got.report = report) });
  const exit = await helper.child.exited;
  if (got.report === null) log.error("image.failed", { reason: `the image helper ended (${exitText(exit)}) without a report: ${helper.lastWords()}` });
  return got.report;
}
