/**
 * Whether a UKI (a PE image) carries an Authenticode signature naming a
 * certificate, read from its attribute certificate table. The firmware
 * verifies the signature; this check only catches, before an update is
 * installed, a UKI signed with another key, which the firmware would refuse
 * and systemd-boot would then stop at, without falling back. Bounded: the
 * table is read once, and at most MAX_ENTRIES of it.
 */
const MAX_ENTRIES = 8;
const WIN_CERT_TYPE_PKCS_SIGNED_DATA = 0x0002;

/** The PKCS#7 blobs of `pe`'s certificate table, or why it has none. */
export function authenticodeBlobs(pe: Uint8Array): Uint8Array[] | string {
  const view = new DataView(pe.buffer, pe.byteOffset, pe.byteLength);
  const u16 = (at: number): number => (at + 2 <= pe.length ? view.getUint16(at, true) : -1);
  const u32 = (at: number): number => (at + 4 <= pe.length ? view.getUint32(at, true) : -1);
  if (u16(0) !== 0x5a4d) return "not a PE image (no MZ)";
  const header = u32(0x3c);
  if (header < 0 || u32(header) !== 0x00004550) return "not a PE image (no PE signature)";
  const optional = header + 24;
  const magic = u16(optional);
  if (magic !== 0x10b && magic !== 0x20b) return "not a PE image (unknown optional header)";
  const count = u32(optional + (magic === 0x20b ? 108 : 92));
  if (count < 5) return "no certificate table";
  const security = optional + (magic === 0x20b ? 112 : 96) + 4 * 8;
  const start = u32(security);
  const size = u32(security + 4);
  if (start <= 0 || size <= 0) return "unsigned";
  if (start + size > pe.length) return "its certificate table runs past its end";
  const blobs: Uint8Array[] = [];
  for (let at = start; at + 8 <= start + size && blobs.length < MAX_ENTRIES;) {
    const length = u32(at);
    if (length < 8 || at + length > start + size) return "its certificate table is malformed";
    if (u16(at + 6) === WIN_CERT_TYPE_PKCS_SIGNED_DATA) blobs.push(pe.subarray(at + 8, at + length));
    at += Math.ceil(length / 8) * 8;
  }
  return blobs.length > 0 ? blobs : "unsigned";
}

/** Null when one of `pe`'s signatures carries the certificate `der` (its signer's, as sbsign embeds it), else why not. */
export function signerProblem(pe: Uint8Array, der: Uint8Array): string | null {
  const blobs = authenticodeBlobs(pe);
  if (typeof blobs === "string") return blobs;
  return blobs.some((blob) => Buffer.from(blob).indexOf(der) >= 0) ? null : "signed with another certificate";
}
