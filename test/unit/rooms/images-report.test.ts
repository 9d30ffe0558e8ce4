import { describe, expect, it } from "vitest";
import { imagesReportSchema } from "../../../rooms/images-report.ts";

describe("what the image helper may tell bay0", () => {
  it("takes one report: the mounted images, the vault partition or null, the policies' data and problems, nothing more", () => {
    const report = {
      mounted: ["minimal", "vault-tools"],
      vault: { device: "/dev/vda4", disk: "/dev/vda", number: 4 },
      policies: [{ name: "shell", image: "minimal", command: ["/bin/sh"] }],
      rejected: [{ file: "/etc/anchor/policies/x.toml", line: 2, column: 1, field: "image", message: "required" }],
    };
    expect(imagesReportSchema.parse(report)).toEqual(report);
    const none = { mounted: [], vault: null, policies: [], rejected: [] };
    expect(imagesReportSchema.parse(none)).toEqual(none);
    expect(imagesReportSchema.safeParse({ ...report, policies: ["shell"] }).success).toBe(false);
    expect(imagesReportSchema.safeParse({ ...report, extra: 1 }).success).toBe(false);
    expect(imagesReportSchema.safeParse({ ...report, vault: { ...report.vault, number: 0 } }).success).toBe(false);
    expect(imagesReportSchema.safeParse({ ...none, mounted: "minimal" }).success).toBe(false);
  });
});
