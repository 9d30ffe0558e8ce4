import { spawnSync } from "node:child_process";
import { createHash, X509Certificate } from "node:crypto";
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { publicUpdateKeys, testUpdateSigner } from "../../uki/update-keys.ts";
import { ukiVersion } from "../../uki/version.ts";
import { checkBundle } from "../../update/bundle.ts";
import { parsePinnedKeys } from "../../update/pinned-keys.ts";
import { inImage, SECURE_BOOT_CERT, UPDATE_KEYS } from "../../init/layout.ts";
import { SNAKEOIL } from "../../uki/sign.ts";
import { signerProblem } from "../../update/uki-signer.ts";
import { runScript } from "../qemu/paths.ts";
import { OUT } from "../qemu/vm.ts";

const sha256 = (file: string): string => createHash("sha256").update(readFileSync(file)).digest("hex");

describe("npm run bundle", () => {
  it("packs the build into out/anchor-VERSION.bundle, named and headed with the version the UKI carries, every part's bytes the build's", () => {
    const version = ukiVersion(join(OUT, "anchor.efi"));
    const output = join(OUT, `anchor-${version}.bundle`);
    rmSync(output, { force: true });
    const packed = runScript("uki/bundle.ts");
    expect(packed.status, packed.stderr).toBe(0);
    expect(packed.stdout).toMatch(/signed with the test update keys/);
    const fd = openSync(output, "r");
    try {
      const hashes = new Map<string, ReturnType<typeof createHash>>();
      const checked = checkBundle(
        {
          size: statSync(output).size,
          read: (at, length) => {
            const bytes = new Uint8Array(length);
            return bytes.subarray(0, readSync(fd, bytes, 0, length, at));
          },
        },
        publicUpdateKeys(testUpdateSigner()),
        {
          exact: true,
          onPart: (part, chunk) => {
            const hash = hashes.get(part.name) ?? createHash("sha256");
            hashes.set(part.name, hash.update(chunk));
          },
        },
      );
      expect(checked.ok, checked.ok ? "" : checked.reason).toBe(true);
      if (!checked.ok) return;
      expect(checked.header.version).toBe(version);
      const byName = new Map(checked.header.parts.map((part) => [part.name, part]));
      expect(byName.get("uki")?.sha256).toBe(sha256(join(OUT, "anchor.efi")));
      expect(byName.get("system")?.sha256).toBe(sha256(join(OUT, "images", "system.squashfs")));
      for (const part of checked.header.parts)
        expect(hashes.get(part.name)?.digest("hex"), part.name).toBe(part.sha256);
    } finally {
      closeSync(fd);
    }
  });

  it("is checked against what the built image pins: the test update keys that signed it, and the certificate of its UKI", () => {
    const cat = spawnSync("unsquashfs", ["-cat", join(OUT, "images", "system.squashfs"), inImage(UPDATE_KEYS)], {
      encoding: "utf8",
    });
    expect(cat.status, cat.stderr).toBe(0);
    const pinned = parsePinnedKeys(cat.stdout);
    expect(pinned).toEqual({ ok: true, keys: publicUpdateKeys(testUpdateSigner()) });
    // And the certificate its UKI is signed with, which an update's UKI must carry too.
    const cert = spawnSync("unsquashfs", ["-cat", join(OUT, "images", "system.squashfs"), inImage(SECURE_BOOT_CERT)]);
    expect(cert.status, String(cert.stderr)).toBe(0);
    expect(cert.stdout).toEqual(readFileSync(SNAKEOIL.cert));
    const der = new X509Certificate(cert.stdout).raw;
    expect(signerProblem(new Uint8Array(readFileSync(join(OUT, "anchor.efi"))), der)).toBeNull();
    expect(signerProblem(new Uint8Array(readFileSync(join(OUT, "build", "anchor-unsigned.efi"))), der)).toBe(
      "unsigned",
    );
  });

  it("refuses to sign with other keys than the build pins: a bundle the built image would refuse is not written", () => {
    const dir = join(mkdtempSync(join(tmpdir(), "anchor-bundle-keys-")), "keys");
    try {
      const made = runScript("uki/keys.ts", [dir]);
      expect(made.status, made.stderr).toBe(0);
      const version = ukiVersion(join(OUT, "anchor.efi"));
      rmSync(join(OUT, `anchor-${version}.bundle`), { force: true });
      const packed = runScript("uki/bundle.ts", ["--keys", dir]);
      expect(packed.status).toBe(1);
      expect(packed.stderr).toMatch(/the build trusts other update keys than the owner's ones signing/);
      expect(existsSync(join(OUT, `anchor-${version}.bundle`))).toBe(false);
    } finally {
      rmSync(join(dir, ".."), { recursive: true, force: true });
    }
  });

  it("refuses a UKI the image's firmware would refuse: one not signed with the certificate the image pins", () => {
    const out = mkdtempSync(join(tmpdir(), "anchor-bundle-out-"));
    try {
      mkdirSync(join(out, "images"));
      for (const name of readdirSync(join(OUT, "images")).filter((n) => /\.(squashfs|json)$/.test(n)))
        copyFileSync(join(OUT, "images", name), join(out, "images", name));
      copyFileSync(join(OUT, "build", "anchor-unsigned.efi"), join(out, "anchor.efi"));
      const packed = runScript("uki/bundle.ts", ["--out", out]);
      expect(packed.status).toBe(1);
      expect(packed.stderr).toMatch(/anchor\.efi is unsigned: the image pins \/etc\/anchor\/secure-boot-db\.crt/);
      expect(readdirSync(out).filter((n) => n.endsWith(".bundle"))).toEqual([]);
      // The same tree with the signed UKI packs.
      copyFileSync(join(OUT, "anchor.efi"), join(out, "anchor.efi"));
      const good = runScript("uki/bundle.ts", ["--out", out]);
      expect(good.status, good.stderr).toBe(0);
      expect(readdirSync(out).filter((n) => n.endsWith(".bundle"))).toHaveLength(1);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
