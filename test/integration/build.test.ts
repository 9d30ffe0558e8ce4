import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { OUT, ROOT } from "../qemu/vm.ts";

const sha256 = (path: string): string => createHash("sha256").update(readFileSync(path)).digest("hex");

describe("image build", () => {
  it("gives the same bytes when the same tree is built again from scratch", () => {
    const out = mkdtempSync(join(tmpdir(), "anchor-rebuild-"));
    try {
      const bun = join(ROOT, "node_modules", ".bin", "bun");
      const build = spawnSync(bun, [join(ROOT, "uki", "build.ts"), "--out", out], { encoding: "utf8" });
      expect(build.status, build.stderr).toBe(0);
      expect(build.stdout).toMatch(/initramfs: building/);
      // The signed out/anchor.efi differs by its signature, which carries the signing time.
      for (const artifact of ["vmlinuz", "initramfs.img", "build/anchor-unsigned.efi", "images/minimal.squashfs"]) {
        expect(sha256(join(out, artifact)), artifact).toBe(sha256(join(OUT, artifact)));
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
