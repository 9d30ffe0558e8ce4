/**
 * The signed PCR 11 policy that lets the vault survive updates: the PCR 11
 * value systemd's stub (252) will measure for a UKI, and the owner's
 * signature over the TPM policy that allows exactly that value, in the JSON
 * that `systemd-cryptenroll --tpm2-public-key` and `systemd-cryptsetup
 * tpm2-signature=` read (.pcrsig). Any UKI signed by the same key unseals;
 * nothing else does. What systemd-measure computes, without needing a TPM.
 */
import { createHash, createPublicKey, sign } from "node:crypto";

/** The sections the stub measures into PCR 11, in the order it measures them (.pcrsig never is). */
export const MEASURED_SECTIONS = [".linux", ".osrel", ".cmdline", ".initrd", ".splash", ".dtb", ".pcrpkey"] as const;
const TPM2_CC_POLICY_PCR = 0x17f;
const TPM2_ALG_SHA256 = 0x000b;

const sha256 = (...parts: Uint8Array[]): Buffer => {
  const hash = createHash("sha256");
  for (const part of parts) hash.update(part);
  return hash.digest();
};

/** PCR 11 after the stub measured `sections` (name -> bytes) from a zero PCR: each name with its NUL, then its bytes. */
export function measuredPcr11(sections: ReadonlyMap<string, Uint8Array>): string {
  let pcr: Buffer = Buffer.alloc(32);
  for (const name of MEASURED_SECTIONS) {
    const data = sections.get(name);
    if (data === undefined) continue;
    pcr = sha256(pcr, sha256(Buffer.from(`${name}\0`, "latin1")));
    pcr = sha256(pcr, sha256(data));
  }
  return pcr.toString("hex");
}

/** The TPM2_PolicyPCR digest that allows PCR 11 (sha256 bank) to hold `pcr11`, from an empty policy. */
export function policyPcrDigest(pcr11: string): string {
  const command = Buffer.alloc(4 + 4 + 2 + 1 + 3);
  command.writeUInt32BE(TPM2_CC_POLICY_PCR, 0);
  command.writeUInt32BE(1, 4); // one TPMS_PCR_SELECTION
  command.writeUInt16BE(TPM2_ALG_SHA256, 8);
  command.writeUInt8(3, 10); // sizeofSelect
  command.set([0x00, 0x08, 0x00], 11); // PCR 11: byte 1, bit 3
  return sha256(Buffer.alloc(32), command, sha256(Buffer.from(pcr11, "hex"))).toString("hex");
}

/** The .pcrsig JSON: the policy for `pcr11`, signed (RSASSA-PKCS1-v1_5, SHA-256) with the owner's PCR key. */
export function pcrSignature(pcr11: string, privateKeyPem: string): string {
  const pol = Buffer.from(policyPcrDigest(pcr11), "hex");
  // systemd names the key by the SHA-256 of its PKCS#1 RSAPublicKey DER, not of the SPKI.
  const pkfp = sha256(createPublicKey(privateKeyPem).export({ type: "pkcs1", format: "der" })).toString("hex");
  const sig = sign("sha256", pol, privateKeyPem).toString("base64");
  return JSON.stringify({ sha256: [{ pcrs: [11], pkfp, pol: pol.toString("hex"), sig }] });
}
