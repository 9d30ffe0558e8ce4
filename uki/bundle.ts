/**
 * `npm run bundle [-- --keys DIR]`: packs the current build (`npm run build`)
 * into one update bundle, `out/anchor-X.Y.Z.bundle` (update/bundle.ts has
 * the format): the UKI, the system image and the base images, each as a slot
 * holds it (with its verity tree), signed with the owner's update keys from
 * DIR, or with the test keys. Written to a stick as it is (`dd`), or handed
 * to a room that may offer it.
 */
import { createHash, X509Certificate } from "node:crypto";
import { closeSync, existsSync, ftruncateSync, openSync, readFileSync, readSync, statSync, writeSync } from "node:fs";
import { join, resolve } from "node:path";
import { z } from "zod";
import { bundlePrefix, planBundle, type BundleHeader, type BundlePart } from "../update/bundle.ts";
import {
  ownerUpdateSigner,
  publicUpdateKeys,
  signBundleHead,
  testUpdateSigner,
  type UpdateSigner,
} from "./update-keys.ts";
import { parsePinnedKeys, pinnedKeysText } from "../update/pinned-keys.ts";
import { inImage, SECURE_BOOT_CERT, UPDATE_KEYS } from "../init/layout.ts";
import { signerProblem } from "../update/uki-signer.ts";
import { runHostTool } from "./host-tool.ts";
import { ukiVersion } from "./version.ts";

const ROOT = join(import.meta.dirname, "..");
const OUT = join(ROOT, "out");
const CHUNK_BYTES = 1 << 20;

export type PartFile = Pick<BundlePart, "name" | "kind" | "slot_offset"> & { file: string };

/** Calls `each` with the file's bytes, a chunk at a time. */
function readChunks(file: string, each: (chunk: Uint8Array) => void): void {
  const fd = openSync(file, "r");
  try {
    const buffer = new Uint8Array(CHUNK_BYTES);
    for (let read = readSync(fd, buffer); read > 0; read = readSync(fd, buffer)) each(buffer.subarray(0, read));
  } finally {
    closeSync(fd);
  }
}

/** Writes the bundle of `parts` to `output`: the signed head, then each part at its offset (the gaps left zero). */
export function writeBundle(output: string, version: string, parts: PartFile[], signer: UpdateSigner): BundleHeader {
  const sized = parts.map((part) => {
    const hash = createHash("sha256");
    readChunks(part.file, (chunk) => hash.update(chunk));
    const { file, ...described } = part;
    return { ...described, size: statSync(file).size, sha256: hash.digest("hex") };
  });
  const { header, bytes } = planBundle(version, sized);
  const prefix = bundlePrefix(bytes.length);
  const signed = new Uint8Array(prefix.length + bytes.length);
  signed.set(prefix, 0);
  signed.set(bytes, prefix.length);
  const fd = openSync(output, "w", 0o644);
  try {
    writeSync(fd, signed, 0, signed.length, 0);
    const signatures = signBundleHead(signed, signer);
    writeSync(fd, signatures, 0, signatures.length, signed.length);
    header.parts.forEach((part, i) => {
      let at = part.offset;
      readChunks(parts[i]?.file ?? "", (chunk) => {
        writeSync(fd, chunk, 0, chunk.length, at);
        at += chunk.length;
      });
    });
    // The gaps are holes, read as zeros; the length is exactly the header's.
    ftruncateSync(fd, header.size);
  } finally {
    closeSync(fd);
  }
  return header;
}

/** What a slot holds of the current build: the UKI, the system image, the base images in the manifest's order. */
export function buildParts(out = OUT): PartFile[] {
  const manifest = z
    .record(z.string(), z.object({ offset: z.number() }))
    .parse(JSON.parse(readFileSync(join(out, "images", "manifest.json"), "utf8")));
  return [
    { name: "uki", kind: "uki", file: join(out, "anchor.efi") },
    { name: "system", kind: "system", file: join(out, "images", "system.squashfs") },
    ...Object.entries(manifest).map(([name, entry]): PartFile => ({
      name,
      kind: "image",
      slot_offset: entry.offset,
      file: join(out, "images", `${name}.squashfs`),
    })),
  ];
}

function main(): void {
  const args = process.argv.slice(2);
  let keys: string | null = null;
  let out = OUT;
  for (let i = 0; i < args.length; i += 2) {
    const value = args[i + 1];
    if (value !== undefined && !value.startsWith("--") && args[i] === "--keys") keys = resolve(value);
    else if (value !== undefined && !value.startsWith("--") && args[i] === "--out") out = resolve(value);
    else {
      process.stderr.write("usage: npm run bundle [-- --keys DIR] [--out DIR]\n");
      process.exit(2);
    }
  }
  const parts = buildParts(out);
  const missing = parts.find((part) => !existsSync(part.file));
  if (missing !== undefined) {
    process.stderr.write(`bundle: ${missing.file} is missing: run npm run build first\n`);
    process.exit(1);
  }
  // The version the build gave the image, not package.json's now.
  const version = ukiVersion(parts.find((part) => part.kind === "uki")?.file ?? "");
  const updateSigner = keys === null ? testUpdateSigner() : ownerUpdateSigner(keys);
  // A bundle the built image itself would refuse is no use: its system image pins the keys it trusts, and the
  // certificate its UKIs are signed with, without which the firmware refuses the UKI and systemd-boot stops.
  const pinnedFile = (path: string): string =>
    runHostTool(["unsquashfs", "-cat", join(out, "images", "system.squashfs"), inImage(path)]);
  const uki = parts.find((part) => part.kind === "uki")?.file ?? "";
  const problem = signerProblem(
    new Uint8Array(readFileSync(uki)),
    new X509Certificate(pinnedFile(SECURE_BOOT_CERT)).raw,
  );
  if (problem !== null) {
    process.stderr.write(
      `bundle: ${uki} is ${problem}: the image pins ${SECURE_BOOT_CERT}, and its firmware would refuse it\n`,
    );
    process.exit(1);
  }
  const pinned = parsePinnedKeys(pinnedFile(UPDATE_KEYS));
  if (!pinned.ok || pinnedKeysText(pinned.keys) !== pinnedKeysText(publicUpdateKeys(updateSigner))) {
    process.stderr.write(
      `bundle: the build trusts other update keys than the ${keys === null ? "test" : "owner's"} ones signing: build and bundle with the same --keys\n`,
    );
    process.exit(1);
  }
  const output = join(out, `anchor-${version}.bundle`);
  const header = writeBundle(output, version, parts, updateSigner);
  process.stdout.write(
    `[bundle] ${output}: ${header.size} bytes, ${header.parts.map((p) => p.name).join(", ")}, signed with the ${keys === null ? "test" : "owner's"} update keys\n`,
  );
}

if (import.meta.main) main();
