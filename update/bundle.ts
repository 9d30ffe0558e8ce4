/**
 * The update bundle: one file (or a raw disk holding it), a signed head and
 * then the payload's parts. Its layout, in bytes:
 *
 *   0       "ANCHOR-BUNDLE\0v1"
 *   16      the header's length H (u32 LE, at most 64 KiB), then 4 zero bytes
 *   24      the header: UTF-8 JSON (format, compat, version, size, parts)
 *   24+H    the Ed25519 signature (64 B), then the ML-DSA-65 one (3309 B,
 *           context "anchor-bundle-v1"), both over bytes 0 to 24+H
 *   …       zeros up to each part, 4 KiB aligned, in the header's order
 *
 * Every byte is covered: the first 24+H by both signatures, which must both
 * verify (a classical or a quantum break alone forges nothing), the parts by
 * their SHA-256 in the signed header, the gaps by being zero. Checking reads
 * the head first, bounded, trusts nothing of it before both signatures
 * verified over exactly the bytes read, then reads every other byte once.
 */
import { createHash, createPublicKey, verify } from "node:crypto";
import { ml_dsa65 } from "@noble/post-quantum/ml-dsa.js";
import { z } from "zod";

/** An image's version, as a build, its os-release, a bundle and bay0.ready carry it: X.Y.Z. */
export const IMAGE_VERSION = /^\d{1,5}\.\d{1,5}\.\d{1,5}$/;

export const BUNDLE_MAGIC = new TextEncoder().encode("ANCHOR-BUNDLE\0v1");
export const PREFIX_BYTES = 24;
export const HEADER_MAX = 64 * 1024;
export const ED25519_SIGNATURE_BYTES = 64;
export const MLDSA65_SIGNATURE_BYTES = 3309;
export const SIGNATURES_BYTES = ED25519_SIGNATURE_BYTES + MLDSA65_SIGNATURE_BYTES;
export const ALIGN = 4096;
/** The ML-DSA-65 signatures' context (FIPS 204's pure mode with a context string). */
export const MLDSA_CONTEXT = new TextEncoder().encode("anchor-bundle-v1");
export const COMPAT = "anchor-x86_64";
const CHUNK_BYTES = 1 << 20;
const MAX_PARTS = 16;

/** The update keys a UKI pins: raw public keys. */
export type BundleKeys = { ed25519: Uint8Array; mldsa65: Uint8Array };

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, "must be a SHA-256 in lowercase hex");
const byteCount = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const partSchema = z
  .object({
    name: z.string().regex(/^[a-z][a-z0-9-]{0,30}$/, "must be a lowercase name"),
    /** The UKI, the system image or a base image (each with its verity tree, as a slot holds it). */
    kind: z.enum(["uki", "system", "image"]),
    offset: byteCount.refine((n) => n % ALIGN === 0, `must be a multiple of ${ALIGN}`),
    size: byteCount,
    sha256: sha256Hex,
    /** A base image's place in the slot's images partition (the offset its system image's manifest names). */
    slot_offset: byteCount.refine((n) => n % ALIGN === 0, `must be a multiple of ${ALIGN}`).optional(),
  })
  .strict()
  .refine((part) => (part.kind === "image") === (part.slot_offset !== undefined), {
    message: "a base image, and only a base image, has a slot_offset",
  });
export type BundlePart = z.infer<typeof partSchema>;

export const headerSchema = z
  .object({
    format: z.literal(1),
    compat: z.literal(COMPAT),
    version: z.string().regex(IMAGE_VERSION, "must be X.Y.Z"),
    /** The bundle's length: a disk holding it may be longer. */
    size: byteCount,
    parts: z
      .array(partSchema)
      .min(1)
      .max(MAX_PARTS)
      .refine((parts) => new Set(parts.map((p) => p.name)).size === parts.length, "part names must not repeat")
      .refine(
        (parts) => ["uki", "system"].every((kind) => parts.filter((p) => p.kind === kind).length === 1),
        "must hold exactly one uki and one system part",
      ),
  })
  .strict();
export type BundleHeader = z.infer<typeof headerSchema>;

export const alignUp = (n: number): number => Math.ceil(n / ALIGN) * ALIGN;

/** Where parts may start: past the head, aligned. */
const partsStart = (headerBytes: number): number => alignUp(PREFIX_BYTES + headerBytes + SIGNATURES_BYTES);

/** The 24 bytes before the header. */
export function bundlePrefix(headerBytes: number): Uint8Array {
  const prefix = new Uint8Array(PREFIX_BYTES);
  prefix.set(BUNDLE_MAGIC, 0);
  new DataView(prefix.buffer).setUint32(16, headerBytes, true);
  return prefix;
}

/**
 * The header for `parts` laid out one after another from the first aligned
 * place past the head, and its bytes: the head's length depends on the
 * offsets it names, so the first offset grows until the head fits before it.
 */
export function planBundle(
  version: string,
  parts: Omit<BundlePart, "offset">[],
): { header: BundleHeader; bytes: Uint8Array } {
  for (let first = ALIGN; ; first += ALIGN) {
    let offset = first;
    const placed = parts.map((part) => {
      const at = offset;
      offset = alignUp(at + part.size);
      return { ...part, offset: at };
    });
    const last = placed.at(-1);
    const header: BundleHeader = {
      format: 1,
      compat: COMPAT,
      version,
      size: last === undefined ? first : last.offset + last.size,
      parts: placed,
    };
    const bytes = new TextEncoder().encode(JSON.stringify(headerSchema.parse(header)));
    if (partsStart(bytes.length) <= first) return { header, bytes };
  }
}

/** What can be read of a bundle: a file, or a raw disk whose first bytes hold one. */
export type BundleSource = {
  /** Bytes readable: the file's length, or the disk's. */
  size: number;
  /** Exactly `length` bytes at `offset` (the caller never asks past `size`). */
  read(offset: number, length: number): Uint8Array;
};

/** Why a bundle is refused, as `update.refused` names it, and what exactly. */
export type BundleRefusal = { ok: false; kind: "signature" | "format" | "hash"; reason: string };
export type BundleCheck = { ok: true; header: BundleHeader } | BundleRefusal;
/** A bundle whose head verified: its header, and where its signatures end. */
export type OpenedBundle = { ok: true; header: BundleHeader; headEnd: number };

const ED25519_SPKI = Buffer.from("302a300506032b6570032100", "hex");

/** Both signatures over `message`, by the pinned keys: null, or which failed. */
export function signaturesProblem(message: Uint8Array, signatures: Uint8Array, keys: BundleKeys): string | null {
  const ed25519 = signatures.subarray(0, ED25519_SIGNATURE_BYTES);
  const mldsa = signatures.subarray(ED25519_SIGNATURE_BYTES, SIGNATURES_BYTES);
  let classical = false;
  try {
    const key = createPublicKey({ key: Buffer.concat([ED25519_SPKI, keys.ed25519]), format: "der", type: "spki" });
    classical = verify(null, message, key, ed25519);
  } catch {
    classical = false;
  }
  if (!classical) return "the Ed25519 signature is not the update key's";
  let quantumSafe = false;
  try {
    quantumSafe = ml_dsa65.verify(mldsa, message, keys.mldsa65, { context: MLDSA_CONTEXT });
  } catch {
    quantumSafe = false;
  }
  return quantumSafe ? null : "the ML-DSA-65 signature is not the update key's";
}

const refused = (kind: BundleRefusal["kind"], reason: string): BundleRefusal => ({ ok: false, kind, reason });
const format = (reason: string): BundleRefusal => refused("format", reason);

/** The header, trusted only once both signatures verified; why not. */
function readHead(source: BundleSource, keys: BundleKeys): OpenedBundle | BundleRefusal {
  if (source.size < PREFIX_BYTES) return format("too short to be a bundle");
  const prefix = source.read(0, PREFIX_BYTES);
  if (!BUNDLE_MAGIC.every((byte, i) => prefix[i] === byte))
    return format("not an Anchor OS bundle (no ANCHOR-BUNDLE v1 mark)");
  const view = new DataView(prefix.buffer, prefix.byteOffset, PREFIX_BYTES);
  const headerBytes = view.getUint32(16, true);
  if (view.getUint32(20, true) !== 0) return format("bytes 20 to 23 are not zero");
  if (headerBytes < 2 || headerBytes > HEADER_MAX)
    return format(`the header's length ${headerBytes} is not 2 to ${HEADER_MAX}`);
  const headEnd = PREFIX_BYTES + headerBytes + SIGNATURES_BYTES;
  if (source.size < headEnd) return format("cut short inside its head");
  const rest = source.read(PREFIX_BYTES, headerBytes + SIGNATURES_BYTES);
  const message = new Uint8Array(PREFIX_BYTES + headerBytes);
  message.set(prefix, 0);
  message.set(rest.subarray(0, headerBytes), PREFIX_BYTES);
  const unsigned = signaturesProblem(message, rest.subarray(headerBytes), keys);
  if (unsigned !== null) return refused("signature", unsigned);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(rest.subarray(0, headerBytes)));
  } catch {
    return format("the signed header is not JSON");
  }
  const header = headerSchema.safeParse(json);
  if (!header.success) {
    const issue = header.error.issues[0];
    return format(`the signed header is invalid: ${issue?.path.join(".") ?? ""}: ${issue?.message ?? "?"}`);
  }
  return { ok: true, header: header.data, headEnd };
}

/** The header's parts, in order, each inside the bundle and past the one before; the first fault, or null. */
function layoutProblem(header: BundleHeader, headEnd: number, source: BundleSource, exact: boolean): string | null {
  if (exact ? source.size !== header.size : source.size < header.size)
    return `the header says ${header.size} bytes; there are ${source.size}`;
  let end = headEnd;
  for (const part of header.parts) {
    if (part.offset < end) return `part ${part.name} overlaps what comes before it`;
    end = part.offset + part.size;
    if (end > header.size) return `part ${part.name} ends past the bundle`;
  }
  return end === header.size ? null : "the bundle does not end where its last part does";
}

/**
 * A bundle's head from `source`, checked against the pinned `keys` (both
 * signatures, then the signed header's shape and layout): what an installer
 * decides on before it reads the payload. A file is exact; a disk may go
 * on past the bundle.
 */
export function openBundle(source: BundleSource, keys: BundleKeys, exact: boolean): OpenedBundle | BundleRefusal {
  const head = readHead(source, keys);
  if (!head.ok) return head;
  const layout = layoutProblem(head.header, head.headEnd, source, exact);
  return layout === null ? head : format(layout);
}

/**
 * Reads every byte of an opened bundle past its head once, in order (the
 * gaps zero, each part's SHA-256 the signed one), each part's bytes given
 * to `onPart` as they are read (where an installer writes them; nothing of
 * a part is to be trusted before this says ok).
 */
export function readParts(
  source: BundleSource,
  { header, headEnd }: OpenedBundle,
  onPart?: (part: BundlePart, chunk: Uint8Array) => void,
): BundleCheck {
  let at = headEnd;
  for (const part of header.parts) {
    for (; at < part.offset; at += CHUNK_BYTES) {
      const want = Math.min(CHUNK_BYTES, part.offset - at);
      const gap = source.read(at, want);
      if (gap.length !== want || gap.some((byte) => byte !== 0))
        return refused("hash", `a byte before part ${part.name} is not zero`);
    }
    const hash = createHash("sha256");
    for (at = part.offset; at < part.offset + part.size; at += CHUNK_BYTES) {
      const want = Math.min(CHUNK_BYTES, part.offset + part.size - at);
      const chunk = source.read(at, want);
      if (chunk.length !== want) return refused("hash", `part ${part.name} could not be read whole`);
      hash.update(chunk);
      onPart?.(part, chunk);
    }
    at = part.offset + part.size;
    if (hash.digest("hex") !== part.sha256)
      return refused("hash", `part ${part.name} is not the bytes the header signed`);
  }
  return { ok: true, header };
}

/** Checks a whole bundle: its head (openBundle), then its payload (readParts), each part's bytes given to `onPart`. */
export function checkBundle(
  source: BundleSource,
  keys: BundleKeys,
  options: { exact: boolean; onPart?: (part: BundlePart, chunk: Uint8Array) => void } = { exact: true },
): BundleCheck {
  const opened = openBundle(source, keys, options.exact);
  return opened.ok ? readParts(source, opened, options.onPart) : opened;
}
