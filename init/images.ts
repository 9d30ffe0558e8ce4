/**
 * bay0's side of the image helper (rooms/mount-images.ts): starts it, logs
 * its image, kernel and TPM records as bay0's own, and returns its report as soon as it has
 * it, or null (logged as `image.failed`) when it ended without one or did not
 * finish in time: a disk that stalls every read must not hold the rooms and
 * the vault for ever. The helper gives each disk's reads their own deadline;
 * this one bounds the whole, images read end to end included.
 */
import { imagesReportSchema, type ImagesReport } from "../rooms/images-report.ts";
import type { Log } from "../sys/log.ts";
import type { Spawner } from "../sys/spawn.ts";
import { exitText, startHelper } from "./helper.ts";

export const IMAGES_DEADLINE_MS = 600_000;
/** The report is one line, the image's policies in it. */
const REPORT_LINE_MAX = 1 << 20;

/** `slot`: the slot this boot runs from, whose images partition holds the base images its system image pins. */
export async function mountImagesByHelper(
  spawner: Spawner,
  log: Log,
  kill: (pid: number) => void,
  slot: "a" | "b",
  deadlineMs = IMAGES_DEADLINE_MS,
): Promise<ImagesReport | null> {
  let got: ImagesReport | null = null;
  let reported: () => void = () => undefined;
  const report = new Promise<"reported">((resolve) => {
    reported = () => resolve("reported");
  });
  const helper = startHelper({ spawner, log }, ["mount-images", slot], {
    // Besides its images, what it saw of the kernel's hardening and the TPM's boot PCRs.
    prefix: "(?:image|kernel|tpm)",
    reply: imagesReportSchema,
    lineMax: REPORT_LINE_MAX,
    onReply: (value) => {
      got = value;
      reported();
    },
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((resolve) => {
    timer = setTimeout(() => resolve("late"), deadlineMs);
  });
  const first = await Promise.race([report, helper.child.exited, late]);
  clearTimeout(timer);
  if (first === "late") {
    kill(helper.child.pid);
    log.error("image.failed", {
      reason: `the image helper did not finish within ${Math.round(deadlineMs / 1000)} s and was killed: ${helper.lastWords()}`,
    });
  } else if (got === null && first !== "reported") {
    log.error("image.failed", {
      reason: `the image helper ended (${exitText(first)}) without a report: ${helper.lastWords()}`,
    });
  }
  return got;
}
