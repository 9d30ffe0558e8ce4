import { describe, expect, it } from "vitest";
import {
  blessing,
  compareVersions,
  entryFile,
  leftovers,
  parseEntry,
  replacedBy,
  TRIES,
} from "../../../update/esp-entries.ts";

describe("the UKIs on the ESP, as systemd-boot counts them", () => {
  it("reads a good entry, one on trial and one whose tries ran out; anything else is not ours", () => {
    expect(parseEntry("anchor_0.2.0.efi")).toEqual({
      file: "anchor_0.2.0.efi",
      version: "0.2.0",
      left: null,
      done: null,
    });
    expect(parseEntry("anchor_0.2.0+3.efi")).toMatchObject({ version: "0.2.0", left: 3, done: null });
    expect(parseEntry("anchor_10.0.1+0-3.efi")).toMatchObject({ version: "10.0.1", left: 0, done: 3 });
    for (const other of [
      "anchor_0.2.efi",
      "anchor_0.2.0.tmp",
      "linux.efi",
      "anchor_0.2.0+x.efi",
      "anchor_0.2.0.efi.bak",
    ])
      expect(parseEntry(other), other).toBeNull();
    expect(entryFile("1.2.3", TRIES)).toBe("anchor_1.2.3+3.efi");
    expect(entryFile("1.2.3")).toBe("anchor_1.2.3.efi");
  });

  it("orders versions by number, not by text", () => {
    expect(compareVersions("0.10.0", "0.9.0")).toBeGreaterThan(0);
    expect(compareVersions("1.0.0", "1.0.0")).toBe(0);
    expect(compareVersions("1.0.0", "1.0.1")).toBeLessThan(0);
    expect(() => compareVersions("1.0", "1.0.0")).toThrow(/X\.Y\.Z/);
  });

  it("blesses the entry the loader is trying by dropping its counter, and nothing outside the UKI folder", () => {
    expect(blessing("\\EFI\\Linux\\anchor_0.2.0+2-1.efi")).toEqual({
      from: "anchor_0.2.0+2-1.efi",
      to: "anchor_0.2.0.efi",
    });
    expect(blessing("\\EFI\\Linux\\anchor_0.2.0.efi")).toBeNull();
    expect(blessing("\\EFI\\BOOT\\anchor_0.2.0+2-1.efi")).toBeNull();
    expect(blessing("\\EFI\\Linux\\..\\anchor_0.2.0+2-1.efi")).toBeNull();
  });

  it("finds, on a boot that is not a trial, a newer version the loader fell back from and UKIs left half-written", () => {
    const files = [
      "anchor_0.1.0.efi",
      "anchor_0.2.0+0-3.efi",
      "anchor_0.0.9+0-3.efi",
      "anchor_0.3.0.tmp",
      "loader.conf",
    ];
    const found = leftovers(files, "0.1.0");
    expect(found.rolledBack.map((e) => e.file)).toEqual(["anchor_0.2.0+0-3.efi"]);
    expect(found.partial).toEqual(["anchor_0.3.0.tmp"]);
    // A newer entry with tries left is not a rollback (the person chose the older one from the menu).
    expect(leftovers(["anchor_0.2.0+1-2.efi"], "0.1.0").rolledBack).toEqual([]);
  });

  it("replaces every entry but the running one, so the ESP holds two versions at most", () => {
    expect(
      replacedBy(["anchor_0.1.0.efi", "anchor_0.2.0.efi", "anchor_0.3.0+0-3.efi", "x.txt"], "anchor_0.2.0.efi"),
    ).toEqual(["anchor_0.1.0.efi", "anchor_0.3.0+0-3.efi"]);
  });
});
