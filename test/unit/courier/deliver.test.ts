import { createHash } from "node:crypto";
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { inBun } from "../../qemu/in-bun.ts";
import { ROOT } from "../../qemu/paths.ts";

/** Each delivery is a Bun process of its own (the courier uses Bun's hasher); a loaded host takes seconds for each. */
const BUN_CASE_MS = 60_000;
const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex");

/**
 * Runs the courier as bay0 does, without its sandbox: the source file on
 * stdin, the destination folder as fd 3, the staging folder as fd 4; its
 * one line of result.
 */
function courier(source: string, folder: string, staging: string, args: string[]): unknown {
  const fds = [openSync(source, "r"), openSync(folder, "r"), openSync(staging, "r")];
  try {
    const script = `import { runCourier } from ${JSON.stringify(join(ROOT, "courier", "deliver.ts"))}; runCourier(${JSON.stringify(args)});`;
    return JSON.parse(inBun(script, fds));
  } finally {
    for (const fd of fds) closeSync(fd);
  }
}

describe("the courier (courier/deliver.ts)", () => {
  const base = mkdtempSync(join(tmpdir(), "anchor-deliver-"));
  afterAll(() => rmSync(base, { recursive: true, force: true }));
  const folder = join(base, "inbox");
  const staging = join(base, "staging");
  mkdirSync(folder);
  mkdirSync(staging);
  const source = join(base, "report.txt");
  writeFileSync(source, "quarterly figures: 42\n");
  const approved = ["report.txt", "22"];

  it(
    "delivers exactly the approved bytes under the file's name, then beside it with a suffix, never over it",
    { timeout: BUN_CASE_MS },
    () => {
      expect(courier(source, folder, staging, approved)).toEqual({ ok: true, name: "report.txt" });
      expect(courier(source, folder, staging, approved)).toEqual({ ok: true, name: "report-2.txt" });
      expect(readFileSync(join(folder, "report.txt"), "utf8")).toBe("quarterly figures: 42\n");
      expect(readFileSync(join(folder, "report-2.txt"), "utf8")).toBe("quarterly figures: 42\n");
      // Nothing is left staged: the file was linked into place, whole.
      expect(readdirSync(staging)).toEqual([]);
    },
  );

  it(
    "delivers nothing when the bytes are fewer than approved, or, the sender's own file, not the approved ones",
    { timeout: BUN_CASE_MS },
    () => {
      expect(courier(source, folder, staging, ["short.txt", "40"])).toEqual({
        ok: false,
        reason: "the file shrank after it was approved",
      });
      rmSync(join(staging, "file"), { force: true });
      const changed = join(base, "changed.txt");
      writeFileSync(changed, "quarterly figures: 43\n");
      expect(courier(changed, folder, staging, ["changed.txt", "22", sha256("quarterly figures: 42\n")])).toEqual({
        ok: false,
        reason: "the file changed after it was approved (its SHA-256 differs)",
      });
      rmSync(join(staging, "file"), { force: true });
      expect(courier(source, folder, staging, ["checked.txt", "22", sha256("quarterly figures: 42\n")])).toEqual({
        ok: true,
        name: "checked.txt",
      });
      rmSync(join(staging, "file"), { force: true });
      expect(readdirSync(folder).sort()).toEqual(["checked.txt", "report-2.txt", "report.txt"]);
    },
  );

  it("delivers a grown file's approved first bytes, and refuses bad arguments", { timeout: BUN_CASE_MS }, () => {
    const grown = join(base, "growing.log");
    writeFileSync(grown, "line 1\nline 2\n");
    expect(courier(grown, folder, staging, ["growing.log", "7"])).toEqual({ ok: true, name: "growing.log" });
    expect(readFileSync(join(folder, "growing.log"), "utf8")).toBe("line 1\n");
    expect(courier(source, folder, staging, ["x.txt", "22", "not-a-hash"])).toEqual({
      ok: false,
      reason: "bad courier arguments",
    });
  });
});
