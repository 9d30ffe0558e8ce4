import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { writeBundle } from "../../../uki/bundle.ts";
import { inBun } from "../../qemu/in-bun.ts";
import { ROOT } from "../../qemu/paths.ts";
import { publicUpdateKeys, signBundleHead, testUpdateSigner, type UpdateSigner } from "../../../uki/update-keys.ts";
import {
  ALIGN,
  bundlePrefix,
  checkBundle,
  planBundle,
  PREFIX_BYTES,
  SIGNATURES_BYTES,
  type BundleSource,
} from "../../../update/bundle.ts";
import { ml_dsa65 } from "@noble/post-quantum/ml-dsa.js";
import { createHash, createPrivateKey } from "node:crypto";

/** An ML-DSA-65 check takes tens of milliseconds on a loaded host: the flipped-byte test makes about sixty. */
const FLIPS_MS = 60_000;
const signer = testUpdateSigner();
const keys = publicUpdateKeys(signer);
const dir = mkdtempSync(join(tmpdir(), "anchor-bundle-"));

const fileOf = (name: string, bytes: Uint8Array): string => {
  const file = join(dir, name);
  writeFileSync(file, bytes);
  return file;
};
const pattern = (length: number, seed: number): Uint8Array =>
  Uint8Array.from({ length }, (_, i) => (i * 31 + seed) & 0xff);

const PARTS = {
  uki: pattern(5000, 1),
  system: pattern(ALIGN * 2, 2),
  minimal: pattern(1, 3),
};

const partFiles = () => [
  { name: "uki", kind: "uki" as const, file: fileOf("uki.efi", PARTS.uki) },
  { name: "system", kind: "system" as const, file: fileOf("system.squashfs", PARTS.system) },
  { name: "minimal", kind: "image" as const, slot_offset: 0, file: fileOf("minimal.squashfs", PARTS.minimal) },
];

/** A bundle of PARTS signed by `by`. */
function bundle(by: UpdateSigner): Uint8Array {
  const output = join(dir, `b-${Math.random()}.bundle`);
  writeBundle(output, "1.2.3", partFiles(), by);
  return new Uint8Array(readFileSync(output));
}

/** The same, packed by Bun with the test keys, as `npm run bundle` runs. */
function bundleInBun(): Uint8Array {
  const output = join(dir, "bun.bundle");
  inBun(`
    import { writeBundle } from ${JSON.stringify(join(ROOT, "uki", "bundle.ts"))};
    import { testUpdateSigner } from ${JSON.stringify(join(ROOT, "uki", "update-keys.ts"))};
    writeBundle(${JSON.stringify(output)}, "1.2.3", ${JSON.stringify(partFiles())}, testUpdateSigner());
  `);
  return new Uint8Array(readFileSync(output));
}

/** A source over `bytes` that counts what was read. */
function source(bytes: Uint8Array): BundleSource & { readBytes: number } {
  const counted = {
    size: bytes.length,
    readBytes: 0,
    read(offset: number, length: number): Uint8Array {
      if (offset + length > bytes.length) throw new Error("read past the end");
      counted.readBytes += length;
      return bytes.slice(offset, offset + length);
    },
  };
  return counted;
}

/** A deterministic spread of positions: every region of the file gets some. */
const positions = (length: number, count: number): number[] =>
  Array.from({ length: count }, (_, i) => Math.floor((((i * 2654435761) % 2 ** 32) / 2 ** 32) * length));

const signedHead = (header: object): Uint8Array => {
  const text = new TextEncoder().encode(JSON.stringify(header));
  const message = new Uint8Array(PREFIX_BYTES + text.length);
  message.set(bundlePrefix(text.length), 0);
  message.set(text, PREFIX_BYTES);
  const head = new Uint8Array(message.length + SIGNATURES_BYTES);
  head.set(message, 0);
  head.set(signBundleHead(message, signer), message.length);
  return head;
};

describe("the update bundle", () => {
  const good = bundleInBun();

  it("packs the parts after a signed head, 4 KiB aligned, and checks to the header it signed, giving each part's bytes", () => {
    const seen = new Map<string, number[]>();
    const checked = checkBundle(source(good), keys, {
      exact: true,
      onPart: (part, chunk) => seen.set(part.name, [...(seen.get(part.name) ?? []), ...chunk]),
    });
    expect(checked).toMatchObject({ ok: true, header: { format: 1, compat: "anchor-x86_64", version: "1.2.3" } });
    if (!checked.ok) return;
    expect(checked.header.parts.map((p) => [p.name, p.kind, p.offset % ALIGN, p.size])).toEqual([
      ["uki", "uki", 0, 5000],
      ["system", "system", 0, ALIGN * 2],
      ["minimal", "image", 0, 1],
    ]);
    expect(checked.header.parts[0]?.sha256).toBe(createHash("sha256").update(PARTS.uki).digest("hex"));
    expect(good.length).toBe(checked.header.size);
    for (const [name, bytes] of Object.entries(PARTS)) expect(seen.get(name)).toEqual([...bytes]);
  });

  it(
    "refuses the bundle with any one byte changed: the head, either signature, the padding, each part",
    () => {
      const head = good.indexOf(0x7d) + 1; // the header's closing brace
      const regions = [
        0,
        15,
        16,
        20,
        23,
        PREFIX_BYTES,
        head - 1,
        head,
        head + 63,
        head + 64,
        head + SIGNATURES_BYTES - 1,
      ];
      const checked = checkBundle(source(good), keys);
      const parts = checked.ok ? checked.header.parts : [];
      // Each part's first and last byte, and the zero gap before each.
      const edges = parts.flatMap((p) => [p.offset - 1, p.offset, p.offset + p.size - 1]);
      expect(edges).toHaveLength(9);
      const spread = positions(good.length, 48);
      for (const at of [...regions, ...edges, ...spread]) {
        const flipped = good.slice();
        flipped[at] = (flipped[at] ?? 0) ^ 0x01;
        expect(checkBundle(source(flipped), keys).ok, `byte ${at}`).toBe(false);
      }
    },
    FLIPS_MS,
  );

  it("needs both signatures: one by another key is refused, whichever it is", () => {
    const other = testUpdateSigner();
    const seed = createHash("sha256").update("another owner").digest();
    const classicalOnly: UpdateSigner = { ed25519: signer.ed25519, mldsa65: ml_dsa65.keygen(seed) };
    expect(checkBundle(source(bundle(classicalOnly)), keys)).toEqual({
      ok: false,
      kind: "signature",
      reason: "the ML-DSA-65 signature is not the update key's",
    });
    const pkcs8 = Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), seed]);
    const quantumOnly: UpdateSigner = {
      ed25519: createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" }),
      mldsa65: other.mldsa65,
    };
    expect(checkBundle(source(bundle(quantumOnly)), keys)).toEqual({
      ok: false,
      kind: "signature",
      reason: "the Ed25519 signature is not the update key's",
    });
  });

  it("reads no more than the head of a bundle whose signatures fail, and a huge header length not at all", () => {
    const flipped = good.slice();
    flipped[PREFIX_BYTES + 2] = (flipped[PREFIX_BYTES + 2] ?? 0) ^ 0x20;
    const read = source(flipped);
    expect(checkBundle(read, keys).ok).toBe(false);
    expect(read.readBytes).toBeLessThan(ALIGN * 2);
    const huge = good.slice();
    new DataView(huge.buffer).setUint32(16, 1 << 30, true);
    const hugeRead = source(huge);
    expect(checkBundle(hugeRead, keys)).toEqual({
      ok: false,
      kind: "format",
      reason: "the header's length 1073741824 is not 2 to 65536",
    });
    expect(hugeRead.readBytes).toBe(PREFIX_BYTES);
  });

  it("refuses a source that reads short rather than take the bytes it did not give as zeros", () => {
    const checked = checkBundle(source(good), keys);
    const system = checked.ok ? checked.header.parts.find((p) => p.name === "system") : undefined;
    if (system === undefined) throw new Error("no system part");
    // A byte set in the gap before the system part, which a read one byte short would never show.
    const planted = good.slice();
    planted[system.offset - 1] = 0x55;
    const short = source(planted);
    const read = short.read;
    short.read = (offset, length) =>
      offset + length === system.offset ? read(offset, length).subarray(0, length - 1) : read(offset, length);
    expect(checkBundle(short, keys)).toEqual({
      ok: false,
      kind: "hash",
      reason: "a byte before part system is not zero",
    });
  });

  it("takes a disk that goes on past the bundle, but not a file with bytes added", () => {
    const disk = new Uint8Array(good.length + ALIGN);
    disk.set(good, 0);
    disk.fill(0xee, good.length);
    expect(checkBundle(source(disk), keys, { exact: false }).ok).toBe(true);
    expect(checkBundle(source(disk), keys, { exact: true })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/^the header says/),
    });
  });

  it("refuses a signed header out of shape or out of order: a signature does not make a bad layout good", () => {
    const { header } = planBundle("1.2.3", [
      { name: "a", kind: "uki", size: 10, sha256: "0".repeat(64) },
      { name: "b", kind: "system", size: 10, sha256: "0".repeat(64) },
    ]);
    const overlapping = { ...header, parts: header.parts.map((p) => ({ ...p, offset: header.parts[0]?.offset ?? 0 })) };
    const cases: [object, RegExp][] = [
      [{ ...header, compat: "anchor-aarch64" }, /^the signed header is invalid: compat/],
      [{ ...header, extra: true }, /^the signed header is invalid/],
      [overlapping, /^part b overlaps/],
      [{ ...header, parts: header.parts.map((p) => ({ ...p, name: "a" })) }, /part names must not repeat/],
      [{ ...header, parts: header.parts.map((p) => ({ ...p, kind: "uki" })) }, /exactly one uki and one system/],
    ];
    for (const [shape, reason] of cases) {
      const head = signedHead(shape);
      const bytes = new Uint8Array(Math.max(head.length, header.size));
      bytes.set(head, 0);
      expect(checkBundle(source(bytes), keys, { exact: false })).toMatchObject({
        ok: false,
        reason: expect.stringMatching(reason),
      });
    }
    const notJson = new Uint8Array(ALIGN);
    notJson.set(signedHead({}).subarray(0, PREFIX_BYTES), 0);
    expect(checkBundle(source(notJson), keys).ok).toBe(false);
  });
});
