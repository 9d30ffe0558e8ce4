import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { sign, signingKey, SNAKEOIL, verifySignature } from "../../uki/sign.ts";
import { OUT, ROOT } from "../qemu/vm.ts";

describe("owner Secure Boot keys (bun uki/keys.ts DIR)", () => {
  it("makes PK/KEK/db and their enrollment lists, and the db key signs a UKI the firmware can verify", () => {
    const dir = join(mkdtempSync(join(tmpdir(), "anchor-keys-")), "keys");
    try {
      const bun = join(ROOT, "node_modules", ".bin", "bun");
      const made = spawnSync(bun, [join(ROOT, "uki", "keys.ts"), dir], { encoding: "utf8" });
      expect(made.status, made.stderr).toBe(0);
      for (const name of ["PK", "KEK", "db"]) {
        for (const ext of ["key", "crt", "esl", "auth"])
          expect(existsSync(join(dir, `${name}.${ext}`)), `${name}.${ext}`).toBe(true);
      }
      const signed = join(dir, "anchor.efi");
      sign(join(OUT, "build", "anchor-unsigned.efi"), signed, signingKey(dir, dir));
      expect(verifySignature(signed, join(dir, "db.crt"))).toBe(true);
      expect(verifySignature(signed, SNAKEOIL.cert)).toBe(false);
      const again = spawnSync(bun, [join(ROOT, "uki", "keys.ts"), dir], { encoding: "utf8" });
      expect(again.status).toBe(1);
      expect(again.stderr).toMatch(/refusing to overwrite/);
    } finally {
      rmSync(join(dir, ".."), { recursive: true, force: true });
    }
  });
});
