import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { findStockKernel, parseShowDepends } from "../../../kernel/stock.ts";

describe("parseShowDepends", () => {
  it("returns module files, dependencies first, skipping builtins", () => {
    const output = "insmod /lib/modules/v/watchdog.ko \ninsmod /lib/modules/v/i6300esb.ko \nbuiltin tpm\n";
    expect(parseShowDepends(output)).toEqual(["/lib/modules/v/watchdog.ko", "/lib/modules/v/i6300esb.ko"]);
  });
});

describe("findStockKernel", () => {
  it("picks the newest version that has both an image and modules", () => {
    const root = mkdtempSync(join(tmpdir(), "kernel-test-"));
    for (const v of ["6.1.0-9-amd64", "6.1.0-10-amd64", "6.1.0-11-amd64"])
      mkdirSync(join(root, "modules", v), { recursive: true });
    mkdirSync(join(root, "boot"));
    for (const v of ["6.1.0-9-amd64", "6.1.0-10-amd64"]) writeFileSync(join(root, "boot", `vmlinuz-${v}`), "");
    expect(findStockKernel(join(root, "boot"), join(root, "modules")).version).toBe("6.1.0-10-amd64");
  });

  it("says how to install a kernel when there is none", () => {
    const root = mkdtempSync(join(tmpdir(), "kernel-test-"));
    mkdirSync(join(root, "modules"));
    expect(() => findStockKernel(join(root, "boot"), join(root, "modules"))).toThrow(
      /apt-get install linux-image-amd64/,
    );
  });
});
