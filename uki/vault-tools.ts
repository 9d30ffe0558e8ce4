/**
 * The vault's tools, in the system image at /usr/lib/anchor/vault (where
 * vault/tools.ts finds them): systemd's cryptsetup and cryptenroll
 * (systemd-tpm2 tokens, PIN, signed PCR policy, recovery key), cryptsetup,
 * mke2fs, and sfdisk and partx to grow the vault's partition, with every
 * library they link or dlopen (the TPM stack: tss2-esys, -mu, -rc, -sys and
 * the device TCTI), flat in its lib/. bay0 runs them with LD_LIBRARY_PATH
 * pointing there.
 */
import { basename } from "node:path";
import type { CpioEntry } from "./cpio.ts";
import { runHostTool } from "./host-tool.ts";
import { hostFile, parseLdd } from "./initramfs.ts";
import { inImage, VAULT_TOOLS } from "../init/layout.ts";

/** Image path -> host path of each program (Debian 12: systemd 252, cryptsetup 2.6, e2fsprogs, util-linux). */
export const VAULT_PROGRAMS: Readonly<Record<string, string>> = Object.freeze({
  "bin/systemd-cryptsetup": "/lib/systemd/systemd-cryptsetup",
  "bin/systemd-cryptenroll": "/usr/bin/systemd-cryptenroll",
  "bin/cryptsetup": "/usr/sbin/cryptsetup",
  "bin/mke2fs": "/sbin/mke2fs",
  "bin/sfdisk": "/sbin/sfdisk",
  "bin/partx": "/usr/bin/partx",
});

/** Loaded with dlopen by systemd's TPM2 support, so ldd does not list them. */
const TPM_LIBRARIES = [
  "libtss2-esys.so.0",
  "libtss2-mu.so.0",
  "libtss2-rc.so.0",
  "libtss2-sys.so.1",
  "libtss2-tcti-device.so.0",
].map((n) => `/usr/lib/x86_64-linux-gnu/${n}`);

/** mke2fs's defaults (ext4 features), read through MKE2FS_CONFIG. */
const MKE2FS_CONF = "/etc/mke2fs.conf";

export function vaultToolInputs(): string[] {
  return [...Object.values(VAULT_PROGRAMS), ...TPM_LIBRARIES, MKE2FS_CONF];
}

/** The tools and their libraries as entries of the system image. */
export function vaultToolEntries(): CpioEntry[] {
  const at = inImage(VAULT_TOOLS);
  const objects = [...Object.values(VAULT_PROGRAMS), ...TPM_LIBRARIES];
  const libraries = new Set([...TPM_LIBRARIES, ...objects.flatMap((file) => parseLdd(runHostTool(["ldd", file])))]);
  return [
    ...Object.entries(VAULT_PROGRAMS).map(([path, source]) => hostFile(source, 0o755, `${at}/${path}`)),
    // The loader is the system's own; everything else goes flat into lib/ under its soname.
    ...[...libraries]
      .filter((l) => !l.includes("ld-linux"))
      .map((library) => hostFile(library, 0o644, `${at}/lib/${basename(library)}`)),
    hostFile(MKE2FS_CONF, 0o644, `${at}/etc/mke2fs.conf`),
  ];
}
