import { describe, expect, it } from "vitest";
import { imageManifestSchema, imageTables, openVerified, type ImageManifestEntry } from "../../../rooms/images.ts";
import type { DeviceMapper, DmTarget } from "../../../sys/device-mapper.ts";

const entry: ImageManifestEntry = {
  root_hash: "a".repeat(64),
  salt: "b".repeat(64),
  hash_offset: 8192,
  offset: 1048576,
  size: 16384,
};

describe("imageManifestSchema", () => {
  it("accepts block-aligned entries with a root hash and salt, and refuses anything else", () => {
    expect(imageManifestSchema.safeParse({ minimal: entry }).success).toBe(true);
    expect(imageManifestSchema.safeParse({ minimal: { ...entry, root_hash: "xyz" } }).success).toBe(false);
    expect(imageManifestSchema.safeParse({ minimal: { ...entry, offset: 100 } }).success).toBe(false);
    expect(imageManifestSchema.safeParse({ minimal: { ...entry, hash_offset: 16384 } }).success).toBe(false);
    expect(imageManifestSchema.safeParse({ Minimal: entry }).success).toBe(false);
  });
});

describe("imageTables", () => {
  it("maps the image's extent of the partition, then dm-verity with the tree one block past the superblock", () => {
    const tables = imageTables("254:2", entry);
    expect(tables.extent).toEqual({ type: "linear", sectors: 32, params: "254:2 2048" });
    expect(tables.verity("253:0")).toEqual({
      type: "verity",
      sectors: 16,
      params: `1 253:0 253:0 4096 4096 2 3 sha256 ${"a".repeat(64)} ${"b".repeat(64)}`,
    });
  });
});

function fakeDm(): DeviceMapper & { live: Set<string>; tables: DmTarget[] } {
  const live = new Set<string>();
  const tables: DmTarget[] = [];
  return {
    live,
    tables,
    create(name, target) {
      live.add(name);
      tables.push(target);
      return { ok: true, device: `/dev/dm-${live.size - 1}`, majorMinor: `253:${live.size - 1}` };
    },
    remove: (name) => void live.delete(name),
  };
}

describe("openVerified", () => {
  it("stacks verity on the extent and reads the verity device whole", async () => {
    const dm = fakeDm();
    const read: string[] = [];
    const result = await openVerified(dm, async (d) => (read.push(d), null), "minimal", "254:2", entry);
    expect(result).toEqual({ ok: true, device: "/dev/dm-1" });
    expect(read).toEqual(["/dev/dm-1"]);
    expect(dm.tables[1]?.params.startsWith("1 253:0 253:0")).toBe(true);
  });

  it("removes both devices when a block does not match", async () => {
    const dm = fakeDm();
    const result = await openVerified(dm, async () => "reading /dev/dm-1: EIO", "minimal", "254:2", entry);
    expect(result).toEqual({
      ok: false,
      error: "dm-verity refused a block (reading /dev/dm-1: EIO): the image does not match its pinned root hash",
    });
    expect(dm.live.size).toBe(0);
  });
});
