import { describe, expect, it } from "vitest";
import { mergeSbat, normalizePeHeader, parseObjdumpSections, ukiObjcopyArgs } from "../../../uki/uki.ts";

const OBJDUMP = `
/usr/lib/systemd/boot/efi/linuxx64.efi.stub:     file format pei-x86-64

Sections:
Idx Name          Size      VMA               LMA               File off  Algn
  0 .text         0000bff0  0000000000004000  0000000000004000  00000400  2**4
                  CONTENTS, ALLOC, LOAD, READONLY, CODE
  6 .sbat         000000e2  0000000000019000  0000000000019000  00011000  2**2
                  CONTENTS, ALLOC, LOAD, READONLY, DATA
  7 .sdmagic      00000034  0000000000019100  0000000000019100  00011200  2**2
                  CONTENTS, ALLOC, LOAD, READONLY, DATA
`;

describe("parseObjdumpSections", () => {
  it("reads names, sizes and addresses", () => {
    expect(parseObjdumpSections(OBJDUMP)).toEqual([
      { name: ".text", size: 0xbff0, vma: 0x4000 },
      { name: ".sbat", size: 0xe2, vma: 0x19000 },
      { name: ".sdmagic", size: 0x34, vma: 0x19100 },
    ]);
  });
});

describe("ukiObjcopyArgs", () => {
  it("replaces the stub's .sbat and appends sections 4 KiB aligned after the stub", () => {
    const args = ukiObjcopyArgs(
      parseObjdumpSections(OBJDUMP),
      [
        { name: ".osrel", file: "osrel", size: 10 },
        { name: ".sbat", file: "sbat", size: 300 },
        { name: ".linux", file: "vmlinuz", size: 0x2001 },
        { name: ".initrd", file: "initrd", size: 5 },
      ],
      "stub.efi",
      "out.efi",
    );
    expect(args).toEqual([
      "--remove-section",
      ".sbat",
      "--add-section",
      ".osrel=osrel",
      "--change-section-vma",
      ".osrel=0x1a000",
      "--add-section",
      ".sbat=sbat",
      "--change-section-vma",
      ".sbat=0x1b000",
      "--add-section",
      ".linux=vmlinuz",
      "--change-section-vma",
      ".linux=0x1c000",
      "--add-section",
      ".initrd=initrd",
      "--change-section-vma",
      ".initrd=0x1f000",
      "stub.efi",
      "out.efi",
    ]);
  });
});

describe("mergeSbat", () => {
  it("keeps the stub's lines and adds Anchor OS's generation", () => {
    const merged = mergeSbat(
      "sbat,1,SBAT Version,sbat,1,https://x/SBAT.md\nsystemd,1,The systemd Developers,systemd,252,https://systemd.io/\n\0",
      "0.1.0",
    );
    expect(merged.trim().split("\n")).toEqual([
      "sbat,1,SBAT Version,sbat,1,https://x/SBAT.md",
      "systemd,1,The systemd Developers,systemd,252,https://systemd.io/",
      "anchor,1,Anchor OS,anchor,0.1.0,https://anchor-os.invalid/sbat",
    ]);
  });
});

describe("normalizePeHeader", () => {
  it("zeroes the PE timestamp and sets a checksum that depends only on the content", () => {
    const image = new Uint8Array(0x200);
    const view = new DataView(image.buffer);
    view.setUint32(0x3c, 0x80, true);
    view.setUint32(0x80, 0x00004550, true);
    view.setUint32(0x88, 0x12345678, true);
    image[0x1ff] = 7;
    const a = normalizePeHeader(image.slice());
    view.setUint32(0x88, 0x9abcdef0, true);
    const b = normalizePeHeader(image.slice());
    expect(new DataView(a.buffer).getUint32(0x88, true)).toBe(0);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(new DataView(a.buffer).getUint32(0x80 + 88, true)).toBeGreaterThan(0x200);
  });

  it("refuses what is not a PE image", () => {
    expect(() => normalizePeHeader(new Uint8Array(0x100))).toThrow(/not a PE image/);
  });
});
