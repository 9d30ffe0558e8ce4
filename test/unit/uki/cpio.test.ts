import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { withParents, writeCpio, type CpioEntry } from "../../../uki/cpio.ts";

const entries: CpioEntry[] = [
  { kind: "file", path: "/sbin/bay0", mode: 0o755, data: new TextEncoder().encode("#!bay0\n") },
  { kind: "symlink", path: "bin", target: "usr/bin" },
  { kind: "char", path: "dev/console", mode: 0o600, major: 5, minor: 1 },
  { kind: "file", path: "etc/a", mode: 0o644, data: new Uint8Array([1, 2, 3]) },
];

describe("writeCpio", () => {
  it("is deterministic whatever the input order", () => {
    expect(Buffer.from(writeCpio(entries)).equals(Buffer.from(writeCpio([...entries].reverse())))).toBe(true);
  });

  it("adds missing parent directories", () => {
    expect(
      withParents([{ kind: "file", path: "a/b/c", mode: 0o644, data: new Uint8Array() }])
        .map((e) => e.path)
        .sort(),
    ).toEqual(["a", "a/b", "a/b/c"]);
  });

  it("writes an archive GNU cpio reads back: names, types, modes, contents, mtime 0", () => {
    const dir = mkdtempSync(join(tmpdir(), "cpio-test-"));
    const archive = join(dir, "a.cpio");
    writeFileSync(archive, writeCpio(entries));
    const listing = spawnSync("cpio", ["-itv", "--quiet", "-F", archive], { encoding: "utf8" });
    expect(listing.status).toBe(0);
    const lines = listing.stdout.trim().split("\n");
    expect(
      lines.map((l) =>
        l
          .replace(/ -> .*$/, "")
          .split(/\s+/)
          .at(-1),
      ),
    ).toEqual(["bin", "dev", "dev/console", "etc", "etc/a", "sbin", "sbin/bay0"]);
    expect(lines.find((l) => l.includes("bin -> "))).toMatch(/^lrwxrwxrwx .* bin -> usr\/bin$/);
    expect(lines.find((l) => l.endsWith("sbin/bay0"))).toMatch(/^-rwxr-xr-x .* root +root +7 Jan  1  1970 sbin\/bay0$/);
    expect(lines.find((l) => l.includes("dev/console"))).toMatch(/^crw-------/);
    const out = join(dir, "x");
    const extract = spawnSync("cpio", ["-id", "--quiet", "-D", out, "-F", archive], { encoding: "utf8" });
    expect(extract.status).toBe(0);
    expect(readFileSync(join(out, "etc", "a"))).toEqual(Buffer.from([1, 2, 3]));
  });
});
