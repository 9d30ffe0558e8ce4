/**
 * dm-verity for base images (veritysetup from cryptsetup-bin): the hash tree
 * is appended to the image, 4 KiB aligned, and the root hash goes into the
 * manifest inside the initramfs, so the UKI's signature covers every image.
 * Salt and UUID derive from the image's content: same image, same bytes.
 */
import { createHash } from "node:crypto";
import { readFileSync, statSync, truncateSync } from "node:fs";
import type { ImageManifestEntry } from "../rooms/images.ts";
import { runHostTool } from "./host-tool.ts";

const BLOCK = 4096;

/** Pads `image` (a squashfs) to whole blocks, appends its hash tree, returns its manifest entry. */
export function formatVerity(image: string): Omit<ImageManifestEntry, "offset"> {
  const digest = createHash("sha256").update(readFileSync(image)).digest("hex");
  const dataBytes = Math.ceil(statSync(image).size / BLOCK) * BLOCK;
  truncateSync(image, dataBytes);
  const uuid = `${digest.slice(0, 8)}-${digest.slice(8, 12)}-4${digest.slice(13, 16)}-8${digest.slice(17, 20)}-${digest.slice(20, 32)}`;
  const out = runHostTool([
    "veritysetup",
    "format",
    image,
    image,
    `--hash-offset=${dataBytes}`,
    `--data-blocks=${dataBytes / BLOCK}`,
    "--data-block-size=4096",
    "--hash-block-size=4096",
    "--hash=sha256",
    `--salt=${digest}`,
    `--uuid=${uuid}`,
  ]);
  const rootHash = /Root hash:\s+([0-9a-f]{64})/.exec(out)?.[1];
  if (rootHash === undefined) throw new Error(`veritysetup printed no root hash:\n${out}`);
  return {
    root_hash: rootHash,
    salt: digest,
    hash_offset: dataBytes,
    size: Math.ceil(statSync(image).size / BLOCK) * BLOCK,
  };
}
