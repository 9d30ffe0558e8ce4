/**
 * The update keys that sign bundles (update/bundle.ts): an Ed25519 key and
 * an ML-DSA-65 key. The owner's are made by `uki/keys.ts` (update-ed25519.key,
 * PKCS#8 PEM; update-mldsa65.seed, the 32-byte seed in hex, from which the
 * key pair is derived); test builds use fixed test keys, public as the
 * snakeoil Secure Boot key is, which no real machine may trust.
 */
import { createHash, createPrivateKey, createPublicKey, sign, type KeyObject } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ml_dsa65 } from "@noble/post-quantum/ml-dsa.js";
import { MLDSA_CONTEXT, type BundleKeys } from "../update/bundle.ts";

export type UpdateSigner = { ed25519: KeyObject; mldsa65: { secretKey: Uint8Array; publicKey: Uint8Array } };

export const UPDATE_KEY_FILES = { ed25519: "update-ed25519.key", mldsa65: "update-mldsa65.seed" } as const;

const ED25519_PKCS8 = Buffer.from("302e020100300506032b657004220420", "hex");

/** An Ed25519 private key from its 32-byte seed. */
const ed25519FromSeed = (seed: Uint8Array): KeyObject =>
  createPrivateKey({ key: Buffer.concat([ED25519_PKCS8, seed]), format: "der", type: "pkcs8" });

const seedOf = (label: string): Uint8Array => createHash("sha256").update(label).digest();

/** The test builds' keys: derived from fixed labels, so every checkout signs and checks alike. */
export function testUpdateSigner(): UpdateSigner {
  return {
    ed25519: ed25519FromSeed(seedOf("anchor-os test update key: ed25519")),
    mldsa65: ml_dsa65.keygen(seedOf("anchor-os test update key: ml-dsa-65")),
  };
}

/** The owner's keys from the folder `uki/keys.ts` wrote; a missing file says how to make it. */
export function ownerUpdateSigner(dir: string): UpdateSigner {
  const path = (name: string): string => {
    const file = join(dir, name);
    if (!existsSync(file))
      throw new Error(`owner key file ${file} is missing (add the update keys with: npx bun uki/keys.ts ${dir})`);
    return file;
  };
  const seed = Buffer.from(readFileSync(path(UPDATE_KEY_FILES.mldsa65), "utf8").trim(), "hex");
  if (seed.length !== 32) throw new Error(`${UPDATE_KEY_FILES.mldsa65} must hold a 32-byte seed in hex`);
  const ed25519 = createPrivateKey(readFileSync(path(UPDATE_KEY_FILES.ed25519)));
  if (ed25519.asymmetricKeyType !== "ed25519") throw new Error(`${UPDATE_KEY_FILES.ed25519} must hold an Ed25519 key`);
  return { ed25519, mldsa65: ml_dsa65.keygen(seed) };
}

/** The public halves, as a UKI pins them. */
export function publicUpdateKeys(signer: UpdateSigner): BundleKeys {
  const spki = createPublicKey(signer.ed25519).export({ format: "der", type: "spki" });
  return { ed25519: new Uint8Array(spki.subarray(spki.length - 32)), mldsa65: signer.mldsa65.publicKey };
}

/** Both signatures over a bundle's head (its prefix and header), Ed25519's first. */
export function signBundleHead(message: Uint8Array, signer: UpdateSigner): Uint8Array {
  const classical = sign(null, message, signer.ed25519);
  const quantumSafe = ml_dsa65.sign(message, signer.mldsa65.secretKey, { context: MLDSA_CONTEXT });
  const signatures = new Uint8Array(classical.length + quantumSafe.length);
  signatures.set(classical, 0);
  signatures.set(quantumSafe, classical.length);
  return signatures;
}
