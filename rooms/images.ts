import { z } from "zod";
import { nameSchema } from "../policies/schema.ts";
import { MS, type Libc } from "../sys/libc.ts";
import type { DeviceMapper, DmTarget } from "../sys/device-mapper.ts";
import { imageMountPoint } from "./build-plan.ts";

export const VERITY_BLOCK = 4096;

/**
 * /etc/anchor/images.json, pinned inside the signed UKI: where each base
 * image lies in the slot's images partition (`offset`, `size` in bytes) and
 * its dm-verity parameters (data then superblock and hash tree from
 * `hash_offset`, relative to the image).
 */
export const imageManifestSchema = z.record(
  nameSchema,
  z
    .object({
      root_hash: z.string().regex(/^[0-9a-f]{64}$/),
      salt: z.string().regex(/^[0-9a-f]{64}$/),
      hash_offset: z.number().int().positive().multipleOf(VERITY_BLOCK),
      offset: z.number().int().nonnegative().multipleOf(VERITY_BLOCK),
      size: z.number().int().positive().multipleOf(VERITY_BLOCK),
    })
    .strict()
    .refine((e) => e.hash_offset < e.size, "hash_offset must lie inside the image"),
);
export type ImageManifest = z.infer<typeof imageManifestSchema>;
export type ImageManifestEntry = ImageManifest[string];

/** The two device-mapper tables of an image: its extent of the partition, then dm-verity over that. */
export function imageTables(
  partition: string,
  entry: ImageManifestEntry,
): { extent: DmTarget; verity: (extent: string) => DmTarget } {
  const dataBlocks = entry.hash_offset / VERITY_BLOCK;
  return {
    extent: { type: "linear", sectors: entry.size / 512, params: `${partition} ${entry.offset / 512}` },
    verity: (extent) => ({
      type: "verity",
      sectors: entry.hash_offset / 512,
      // The hash tree starts one block after hash_offset: veritysetup's superblock sits there.
      params: `1 ${extent} ${extent} ${VERITY_BLOCK} ${VERITY_BLOCK} ${dataBlocks} ${dataBlocks + 1} sha256 ${entry.root_hash} ${entry.salt}`,
    }),
  };
}

/**
 * Maps an image of the partition (`majorMinor`) as a dm-verity device that
 * checks every read, then reads it whole once (dm-verity alone would accept
 * a wrong image and fail only on the blocks a room reads later). Returns the
 * verity device, or why the image must not be used.
 */
export async function openVerified(
  dm: DeviceMapper,
  readWhole: (device: string) => Promise<string | null>,
  name: string,
  partition: string,
  entry: ImageManifestEntry,
): Promise<{ ok: true; device: string } | { ok: false; error: string }> {
  const tables = imageTables(partition, entry);
  const extentName = `anchor-extent-${name}`;
  const extent = dm.create(extentName, tables.extent);
  if (!extent.ok) return extent;
  const verityName = `anchor-image-${name}`;
  const verity = dm.create(verityName, tables.verity(extent.majorMinor));
  if (!verity.ok) {
    dm.remove(extentName);
    return verity;
  }
  const unreadable = await readWhole(verity.device);
  if (unreadable === null) return { ok: true, device: verity.device };
  dm.remove(verityName);
  dm.remove(extentName);
  return {
    ok: false,
    error: `dm-verity refused a block (${unreadable}): the image does not match its pinned root hash`,
  };
}

export type ImageFs = {
  list(dir: string): string[];
  read(path: string): string | null;
  mkdir(path: string): void;
};

/** Mounts an image read-only (squashfs) where room plans expect it. Returns an error or null. */
export function mountImage(libc: Libc, fs: ImageFs, name: string, device: string): string | null {
  const target = imageMountPoint(name);
  fs.mkdir(target);
  const result = libc.mount(device, target, "squashfs", MS.RDONLY | MS.NOSUID | MS.NODEV, "");
  return result.ok ? null : `${device} on ${target}: ${result.message}`;
}
