/**
 * Secure Boot signing with sbsign. Without owner keys the build signs with
 * the snakeoil test key that Debian's ovmf package ships (and enrolls in its
 * OVMF_VARS_4M.snakeoil.fd), so tests can boot with Secure Boot enforced.
 * Real devices use the owner's own keys (`bun uki/keys.ts DIR`).
 */
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runHostTool } from "./host-tool.ts";

export const SNAKEOIL = {
  key: "/usr/share/ovmf/PkKek-1-snakeoil.key",
  cert: "/usr/share/ovmf/PkKek-1-snakeoil.pem",
  /** Debian encrypts the snakeoil key with this (public) passphrase. */
  passphrase: "snakeoil",
};

export type SigningKey = { key: string; cert: string; owner: "snakeoil" | "owner" };

/** The key to sign with: the owner's db key from `keysDir`, else the snakeoil key (decrypted into `scratch`). */
export function signingKey(keysDir: string | null, scratch: string): SigningKey {
  if (keysDir !== null) {
    const key = join(keysDir, "db.key");
    const cert = join(keysDir, "db.crt");
    for (const file of [key, cert])
      if (!existsSync(file))
        throw new Error(`owner key file ${file} is missing (make them with: npx bun uki/keys.ts ${keysDir})`);
    return { key, cert, owner: "owner" };
  }
  const key = join(scratch, "snakeoil.key");
  writeFileSync(key, "");
  chmodSync(key, 0o600);
  runHostTool(["openssl", "rsa", "-in", SNAKEOIL.key, "-passin", `pass:${SNAKEOIL.passphrase}`, "-out", key]);
  return { key, cert: SNAKEOIL.cert, owner: "snakeoil" };
}

/**
 * The key that signs the vault's PCR 11 policy (.pcrsig): the owner's RSA-2048
 * `pcr.key` (RSA 4096 fails on real TPMs, systemd#35448), else the snakeoil
 * key, which is RSA 2048 too. Returns the private key's PEM.
 */
export function pcrSigningKey(keysDir: string | null, scratch: string): string {
  if (keysDir === null) return readFileSync(signingKey(null, scratch).key, "utf8");
  const key = join(keysDir, "pcr.key");
  if (!existsSync(key))
    throw new Error(`owner key file ${key} is missing (make it with: openssl genrsa -out ${key} 2048)`);
  return readFileSync(key, "utf8");
}

export function sign(input: string, output: string, key: SigningKey): void {
  runHostTool(["sbsign", "--key", key.key, "--cert", key.cert, "--output", output, input]);
}

/** True when `file` carries a valid signature by `cert`. */
export function verifySignature(file: string, cert: string): boolean {
  return spawnSync("sbverify", ["--cert", cert, file], { encoding: "utf8" }).status === 0;
}
