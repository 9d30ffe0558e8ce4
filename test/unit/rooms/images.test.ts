import { describe, expect, it } from "vitest";
import { discoverImageDisks, imageManifestSchema } from "../../../rooms/images.ts";

describe("discoverImageDisks", () => {
  it("maps virtio disks whose serial is img-NAME to their device", () => {
    const files: Record<string, string> = { "/sys/block/vda/serial": "img-minimal\n", "/sys/block/vdb/serial": "data\n", "/sys/block/vdc/serial": "img-workshop" };
    const found = discoverImageDisks({ list: () => ["vdc", "vda", "vdb", "loop0"], read: (p) => files[p] ?? null, mkdir: () => undefined });
    expect([...found]).toEqual([
      ["minimal", "/dev/vda"],
      ["workshop", "/dev/vdc"],
    ]);
  });
});

describe("imageManifestSchema", () => {
  it("accepts pinned root hashes and refuses anything else", () => {
    expect(imageManifestSchema.safeParse({ minimal: { root_hash: "a".repeat(64), hash_offset: 4096 } }).success).toBe(true);
    expect(imageManifestSchema.safeParse({ minimal: { root_hash: "xyz", hash_offset: 4096 } }).success).toBe(false);
    expect(imageManifestSchema.safeParse({ Minimal: { root_hash: "a".repeat(64), hash_offset: 4096 } }).success).toBe(false);
  });
});
