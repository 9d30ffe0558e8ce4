import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { findStockKernel } from "../../../kernel/stock.ts";
import { osRelease } from "../../../uki/initramfs.ts";
import { assembleUki } from "../../../uki/uki.ts";
import { peSection, ukiFacts } from "../../../update/uki-sections.ts";

const scratch = mkdtempSync(join(tmpdir(), "anchor-sections-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const PIN = "0a1b2c3d-4e5f-4a6b-8c7d-8e9fa0b1c2d3";

describe("what an update's UKI says of itself", () => {
  it("reads the version from .osrel and the pinned system partition from .cmdline of a UKI the build assembles", () => {
    const initramfs = join(scratch, "initramfs");
    writeFileSync(initramfs, "not really an initramfs");
    const uki = join(scratch, "uki.efi");
    const cmdline = `console=ttyS0 anchor.system=${PIN},100,${"ab".repeat(32)},${"cd".repeat(32)} quiet`;
    assembleUki(
      {
        vmlinuz: findStockKernel().vmlinuz,
        initramfs,
        cmdline,
        osRelease: osRelease("4.5.6"),
        version: "4.5.6",
        pcrKey: generateKeyPairSync("rsa", { modulusLength: 2048 })
          .privateKey.export({ type: "pkcs8", format: "pem" })
          .toString(),
      },
      uki,
    );
    const image = new Uint8Array(readFileSync(uki));
    expect(ukiFacts(image)).toEqual({ version: "4.5.6", systemPartUuid: PIN });
    expect(new TextDecoder().decode(peSection(image, ".initrd") ?? new Uint8Array())).toBe("not really an initramfs");
    expect(peSection(image, ".nothere")).toBeNull();
  });

  it("finds nothing in what is not a PE image, or one cut short", () => {
    expect(ukiFacts(new Uint8Array(4096))).toEqual({ version: null, systemPartUuid: null });
    const stub = new Uint8Array(readFileSync("/usr/lib/systemd/boot/efi/linuxx64.efi.stub"));
    expect(peSection(stub.subarray(0, 300), ".sbat")).toBeNull();
    expect(peSection(stub, ".sbat")).not.toBeNull();
  });
});
