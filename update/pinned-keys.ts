/**
 * The update keys an image trusts, as its system image holds them
 * (`/etc/anchor/update-keys.json`, init/layout.ts): the UKI pins the system
 * image by its root hash, so only an owner-signed image decides which
 * bundles it accepts.
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import type { BundleKeys } from "./bundle.ts";

const hexOf = (bytes: number) =>
  z.string().regex(new RegExp(`^[0-9a-f]{${bytes * 2}}$`), `must be ${bytes} bytes in hex`);

const pinnedKeysSchema = z.object({ ed25519: hexOf(32), mldsa65: hexOf(1952) }).strict();

/** The file's text for `keys`. */
export const pinnedKeysText = (keys: BundleKeys): string =>
  `${JSON.stringify({ ed25519: Buffer.from(keys.ed25519).toString("hex"), mldsa65: Buffer.from(keys.mldsa65).toString("hex") })}\n`;

/** The keys the file pins, or why it pins none. */
export function parsePinnedKeys(text: string): { ok: true; keys: BundleKeys } | { ok: false; reason: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, reason: "not JSON" };
  }
  const parsed = pinnedKeysSchema.safeParse(json);
  if (!parsed.success)
    return {
      ok: false,
      reason: parsed.error.issues.map((i) => `${i.path.join(".") || "file"}: ${i.message}`).join("; "),
    };
  return {
    ok: true,
    keys: {
      ed25519: new Uint8Array(Buffer.from(parsed.data.ed25519, "hex")),
      mldsa65: new Uint8Array(Buffer.from(parsed.data.mldsa65, "hex")),
    },
  };
}

/** The keys' fingerprint as prompts and records show it: SHA-256 over both public keys, its first 16 bytes in hex. */
export const keyFingerprint = (keys: BundleKeys): string =>
  createHash("sha256").update(keys.ed25519).update(keys.mldsa65).digest("hex").slice(0, 32);
