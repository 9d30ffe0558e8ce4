import { describe, expect, it } from "vitest";
import { imageRecordSchema, imagesReportSchema } from "../../../rooms/images-report.ts";

describe("what the image helper may tell bay0", () => {
  it("relays only image events at info, warn or error, with their fields", () => {
    const mounted = { ts: "2026-12-02T08:00:00.000Z", level: "info", event: "image.mounted", image: "minimal", device: "/dev/dm-1" };
    expect(imageRecordSchema.parse(mounted)).toEqual(mounted);
    for (const forged of [
      { ...mounted, event: "room.started" },
      { ...mounted, event: "vault.unlocked" },
      { ...mounted, event: "image.Mounted" },
      { ...mounted, level: "debug" },
      { ...mounted, level: undefined },
    ]) {
      expect(imageRecordSchema.safeParse(forged).success).toBe(false);
    }
  });

  it("takes one report: the mounted images and the vault partition or null, nothing more", () => {
    const report = { mounted: ["minimal", "vault-tools"], vault: { device: "/dev/vda4", disk: "/dev/vda", number: 4 } };
    expect(imagesReportSchema.parse(report)).toEqual(report);
    expect(imagesReportSchema.parse({ mounted: [], vault: null })).toEqual({ mounted: [], vault: null });
    expect(imagesReportSchema.safeParse({ ...report, extra: 1 }).success).toBe(false);
    expect(imagesReportSchema.safeParse({ ...report, vault: { ...report.vault, number: 0 } }).success).toBe(false);
    expect(imagesReportSchema.safeParse({ mounted: "minimal", vault: null }).success).toBe(false);
  });
});
