import { z } from "zod";
import { nameSchema } from "../policies/schema.ts";
import { MS, type Libc } from "../sys/libc.ts";
import type { ToolRunner } from "../sys/tool.ts";
import { imageMountPoint } from "./plan.ts";

/** /etc/anchor/images.json: each base image's dm-verity root hash, pinned inside the signed UKI. */
export const imageManifestSchema = z.record(
  nameSchema,
  z.object({ root_hash: z.string().regex(/^[0-9a-f]{64}$/), hash_offset: z.number().int().positive() }).strict(),
);
export type ImageManifest = z.infer<typeof imageManifestSchema>;
export type ImageManifestEntry = ImageManifest[string];

/**
 * Checks the whole image against its pinned root hash (veritysetup open
 * alone would accept a wrong hash and fail only on reads), then maps it as
 * a dm-verity device that keeps checking every read. Returns the mapped
 * device, or why the image must not be used.
 */
export async function openVerified(
  tool: ToolRunner,
  name: string,
  device: string,
  entry: ImageManifestEntry,
): Promise<{ ok: true; device: string } | { ok: false; error: string }> {
  const offset = `--hash-offset=${entry.hash_offset}`;
  const verify = await tool(["veritysetup", "verify", device, device, entry.root_hash, offset]);
  if (verify.status !== 0) return { ok: false, error: (verify.stderr || verify.stdout).trim() || `veritysetup verify exited ${verify.status}` };
  const mapped = `anchor-image-${name}`;
  const open = await tool(["veritysetup", "open", device, mapped, device, entry.root_hash, offset]);
  if (open.status !== 0) return { ok: false, error: (open.stderr || open.stdout).trim() || `veritysetup open exited ${open.status}` };
  return { ok: true, device: `/dev/mapper/${mapped}` };
}

export type ImageFs = {
  list(dir: string): string[];
  read(path: string): string | null;
  mkdir(path: string): void;
};

/**
 * Base images arrive as read-only block devices whose serial (or, on real
 * hardware, partition label) is the image name: in QEMU, virtio disks with
 * serial=NAME. Returns name -> device path.
 */
export function discoverImageDisks(fs: ImageFs): Map<string, string> {
  const found = new Map<string, string>();
  for (const dev of fs.list("/sys/block").filter((d) => d.startsWith("vd")).sort()) {
    const serial = fs.read(`/sys/block/${dev}/serial`)?.trim();
    if (serial?.startsWith("img-")) found.set(serial.slice("img-".length), `/dev/${dev}`);
  }
  return found;
}

/** Mounts an image read-only (squashfs) where room plans expect it. Returns an error or null. */
export function mountImage(libc: Libc, fs: ImageFs, name: string, device: string): string | null {
  const target = imageMountPoint(name);
  fs.mkdir(target);
  const result = libc.mount(device, target, "squashfs", MS.RDONLY | MS.NOSUID | MS.NODEV, "");
  return result.ok ? null : `${device} on ${target}: ${result.message}`;
}
