import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { writeBundle } from "../../uki/bundle.ts";
import { sign, signingKey, SNAKEOIL, verifySignature } from "../../uki/sign.ts";
import { ownerUpdateSigner, publicUpdateKeys, testUpdateSigner, UPDATE_KEY_FILES } from "../../uki/update-keys.ts";
import { checkBundle } from "../../update/bundle.ts";
import { runScript } from "../qemu/paths.ts";
import { OUT } from "../qemu/vm.ts";

describe("owner Secure Boot keys (bun uki/keys.ts DIR)", () => {
  it("makes PK/KEK/db and their enrollment lists, and the db key signs a UKI the firmware can verify; the update keys sign a bundle", () => {
    const dir = join(mkdtempSync(join(tmpdir(), "anchor-keys-")), "keys");
    try {
      const made = runScript("uki/keys.ts", [dir]);
      expect(made.status, made.stderr).toBe(0);
      for (const name of ["PK", "KEK", "db"]) {
        for (const ext of ["key", "crt", "esl", "auth"])
          expect(existsSync(join(dir, `${name}.${ext}`)), `${name}.${ext}`).toBe(true);
      }
      // The update keys sign a bundle that checks against their public halves, and not against the test keys'.
      const owner = ownerUpdateSigner(dir);
      const parts = [
        { name: "uki", kind: "uki" as const, file: join(OUT, "build", "anchor-unsigned.efi") },
        { name: "system", kind: "system" as const, file: join(OUT, "build", "initramfs.cpio") },
      ];
      writeBundle(join(dir, "owner.bundle"), "1.0.0", parts, owner);
      const bundle = new Uint8Array(readFileSync(join(dir, "owner.bundle")));
      const from = { size: bundle.length, read: (at: number, length: number) => bundle.slice(at, at + length) };
      expect(checkBundle(from, publicUpdateKeys(owner)).ok).toBe(true);
      expect(checkBundle(from, publicUpdateKeys(testUpdateSigner())).ok).toBe(false);
      const signed = join(dir, "anchor.efi");
      sign(join(OUT, "build", "anchor-unsigned.efi"), signed, signingKey(dir, dir));
      expect(verifySignature(signed, join(dir, "db.crt"))).toBe(true);
      expect(verifySignature(signed, SNAKEOIL.cert)).toBe(false);
      const again = runScript("uki/keys.ts", [dir]);
      expect(again.status).toBe(1);
      expect(again.stderr).toMatch(/refusing to overwrite/);
      // Keys made before updates existed get update keys of their own, and nothing else changes.
      const db = readFileSync(join(dir, "db.key"));
      for (const name of Object.values(UPDATE_KEY_FILES)) rmSync(join(dir, name));
      const added = runScript("uki/keys.ts", [dir]);
      expect(added.status, added.stderr).toBe(0);
      expect(added.stdout).toMatch(/added update-ed25519.key and update-mldsa65.seed/);
      expect(readFileSync(join(dir, "db.key"))).toEqual(db);
      expect(publicUpdateKeys(ownerUpdateSigner(dir)).ed25519).not.toEqual(publicUpdateKeys(owner).ed25519);
    } finally {
      rmSync(join(dir, ".."), { recursive: true, force: true });
    }
  });
});
