/**
 * Where things are in the system image: the one place the build
 * (uki/system-image.ts writes them there) and the running machine (bay0 and
 * its helpers read them there) both take these paths from.
 */

/** bay0's executable (preinit execs it, init/preinit.c naming the same path; every helper is this same program in another mode). */
export const BAY0_DIR = "/usr/lib/bay0";
export const BAY0 = `${BAY0_DIR}/bay0`;
/** The owner's configuration, pinned by the signed image. */
export const POLICY_DIR = "/etc/anchor/policies";
export const AUTOSTART_FILE = "/etc/anchor/autostart";
/** Where each base image lies and its verity root hash. */
export const IMAGE_MANIFEST = "/etc/anchor/images.json";
/** The pinned base seccomp profile (containers-common's). */
export const SECCOMP_PROFILE = "/etc/anchor/seccomp.json";
/** The update keys the image trusts (update/pinned-keys.ts). */
export const UPDATE_KEYS = "/etc/anchor/update-keys.json";
/** The certificate (db) the image's UKIs are signed with: an update's UKI must be too (update/uki-signer.ts). */
export const SECURE_BOOT_CERT = "/etc/anchor/secure-boot-db.crt";
/** The vault's tools (cryptsetup, systemd-cryptenroll, e2fsprogs) and their libraries. */
export const VAULT_TOOLS = "/usr/lib/anchor/vault";

/** A layout path as an entry of the image (relative to its root). */
export const inImage = (path: string): string => path.replace(/^\//, "");
