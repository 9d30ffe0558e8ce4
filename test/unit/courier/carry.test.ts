import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { inBun } from "../../qemu/in-bun.ts";
import { ROOT } from "../../qemu/paths.ts";

/** courier/carry.ts's staging with the real openat2 (in a Bun process of its own), without the cgroups. */
describe("the carrier's staging (stageFile)", () => {
  const base = mkdtempSync(join(tmpdir(), "anchor-carry-"));
  afterAll(() => rmSync(base, { recursive: true, force: true }));
  mkdirSync(join(base, "room", "tmp"), { recursive: true, mode: 0o755 });
  writeFileSync(join(base, "room", "tmp", "report.txt"), "quarterly figures: 42\n", { mode: 0o644 });
  const stage = (file: string, memoryLeft: number | null): { reply: unknown; held: Record<string, unknown> | null } =>
    JSON.parse(
      inBun(`
        import { stageFile } from ${JSON.stringify(join(ROOT, "courier", "carry.ts"))};
        import { openHelperLibc } from ${JSON.stringify(join(ROOT, "sys", "libc-helper.ts"))};
        const request = { do: "stage", root: ${JSON.stringify(join(base, "room"))}, path: "/tmp/report.txt", reader: { uid: 1000, gid: 1000 }, cgroupNode: "/rooms/notes", maxBytes: 1024, sender: "notes" };
        const { reply, held } = stageFile(openHelperLibc(), request, ${JSON.stringify(file)}, ${JSON.stringify(memoryLeft)});
        console.log(JSON.stringify({ reply, held: held === null ? null : { ...held, fd: "fd" in held ? "open" : undefined } }));
      `),
    ) as { reply: unknown; held: Record<string, unknown> | null };
  const sha256 = createHash("sha256").update("quarterly figures: 42\n").digest("hex");

  it(
    "copies the file where no room reaches and hashes it, charged to the sender, when its memory holds the copy",
    { timeout: 60_000 },
    () => {
      const file = join(base, "staged-copy");
      const { reply, held } = stage(file, null);
      expect(reply).toEqual({ ok: true, staged: { size: 22, sha256 } });
      expect(held).toEqual({ copy: file, size: 22, sha256 });
      expect(existsSync(file)).toBe(true);
    },
  );

  it(
    "hashes the file where it lies and keeps it open when the sender has no memory left for a copy",
    { timeout: 60_000 },
    () => {
      const file = join(base, "staged-none");
      const { reply, held } = stage(file, 1024);
      expect(reply).toEqual({ ok: true, staged: { size: 22, sha256 } });
      expect(held).toEqual({ fd: "open", size: 22, sha256 });
      expect(existsSync(file)).toBe(false);
    },
  );
});
