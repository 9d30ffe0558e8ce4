import { describe, expect, it } from "vitest";
import { helperRecordSchema } from "../../../init/helper.ts";

describe("what a helper may have bay0 log", () => {
  it("only events under its own prefix, at info, warn or error, with their fields", () => {
    const images = helperRecordSchema("image");
    const mounted = {
      ts: "2026-12-02T08:00:00.000Z",
      level: "info",
      event: "image.mounted",
      image: "minimal",
      device: "/dev/dm-1",
    };
    expect(images.parse(mounted)).toEqual(mounted);
    for (const forged of [
      { ...mounted, event: "room.started" },
      { ...mounted, event: "vault.unlocked" },
      { ...mounted, event: "image.Mounted" },
      { ...mounted, event: "imagex.mounted" },
      { ...mounted, level: "debug" },
      { ...mounted, level: undefined },
    ]) {
      expect(images.safeParse(forged).success).toBe(false);
    }
    expect(helperRecordSchema("vault").safeParse({ ...mounted, event: "vault.tries_reset" }).success).toBe(true);
  });
});
