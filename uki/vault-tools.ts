/**
 * The vault's tools, as one more dm-verity image in slot A ("vault-tools",
 * pinned by the UKI's manifest like the rooms' images), not in the UKI:
 * systemd's cryptsetup and cryptenroll (systemd-tpm2 tokens, PIN, signed PCR
 * policy, recovery key), cryptsetup, mke2fs, and sfdisk and partx to grow
 * the vault's partition, with every library they link or dlopen (the TPM
 * stack: tss2-esys, -mu, -rc, -sys and the device TCTI). bay0 runs them
 * from the mounted image with LD_LIBRARY_PATH pointing at its lib/.
 */
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { runHostTool } from "./host-tool.ts";
import { parseLdd } from "./initramfs.ts";

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
const TPM_LIBRARIES = ["libtss2-esys.so.0", "libtss2-mu.so.0", "libtss2-rc.so.0", "libtss2-sys.so.1", "libtss2-tcti-device.so.0"].map((n) => `/usr/lib/x86_64-linux-gnu/${n}`);

/** mke2fs's defaults (ext4 features), read through MKE2FS_CONFIG. */
const MKE2FS_CONF = "/etc/mke2fs.conf";

export function vaultToolInputs(): string[] {
  return [...Object.values(VAULT_PROGRAMS), ...TPM_LIBRARIES, MKE2FS_CONF];
}

export function buildVaultTools(output: string): void {
  const tree = mkdtempSync(join(tmpdir(), "anchor-vault-tools-"));
  try {
    chmodSync(tree, 0o755);
    for (const dir of ["bin", "lib", "etc"]) mkdirSync(join(tree, dir), { mode: 0o755 });
    for (const [path, source] of Object.entries(VAULT_PROGRAMS)) {
      copyFileSync(source, join(tree, path));
      chmodSync(join(tree, path), 0o755);
    }
    const objects = [...Object.values(VAULT_PROGRAMS), ...TPM_LIBRARIES];
    const libraries = new Set([...TPM_LIBRARIES, ...objects.flatMap((file) => parseLdd(runHostTool(["ldd", file])))]);
    // The loader itself comes from the initramfs; everything else goes flat into lib/ under its soname.
    for (const library of [...libraries].filter((l) => !l.includes("ld-linux"))) {
      copyFileSync(realpathSync(library), join(tree, "lib", basename(library)));
      chmodSync(join(tree, "lib", basename(library)), 0o644);
    }
    copyFileSync(MKE2FS_CONF, join(tree, "etc", "mke2fs.conf"));
    runHostTool(["mksquashfs", tree, output, "-noappend", "-comp", "zstd", "-all-root", "-all-time", "0", "-mkfs-time", "0", "-quiet", "-no-progress"]);
  } finally {
    rmSync(tree, { recursive: true, force: true });
  }
}
