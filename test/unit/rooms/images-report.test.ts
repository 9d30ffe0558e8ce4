import { describe, expect, it } from "vitest";
import { imagesReportSchema } from "../../../rooms/images-report.ts";

describe("what the image helper may tell bay0", () => {
  it("takes one report: the mounted images and the vault partition or null, nothing more", () => {
    const report = { mounted: ["minimal", "vault-tools"], vault: { device: "/dev/vda4", disk: "/dev/vda", number: 4 } };
    expect(imagesReportSchema.parse(report)).toEqual(report);
    expect(imagesReportSchema.parse({ mounted: [], vault: null })).toEqual({ mounted: [], vault: null });
    expect(imagesReportSchema.safeParse({ ...report, extra: 1 }).success).toBe(false);
    expect(imagesReportSchema.safeParse({ ...report, vault: { ...report.vault, number: 0 } }).success).toBe(false);
    expect(imagesReportSchema.safeParse({ mounted: "minimal", vault: null }).success).toBe(false);
  });
});
