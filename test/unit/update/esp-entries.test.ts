import { describe, expect, it } from "vitest";
import {
  blessing,
  compareVersions,
  entryFile,
  leftovers,
  partialFile,
  otherVersionPinned,
  parseEntry,
  replacedBy,
  rolledBackVersions,
  TRIES,
  withRolledBack,
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
      "anchor_0.2.0.0a1b2c3d.tmp",
      "linux.efi",
      "anchor_0.2.0+x.efi",
      "anchor_0.2.0.efi.bak",
    ])
      expect(parseEntry(other), other).toBeNull();
    expect(entryFile("1.2.3", TRIES)).toBe("anchor_1.2.3+3.efi");
    expect(entryFile("1.2.3")).toBe("anchor_1.2.3.efi");
    expect(partialFile("1.2.3", "0a1b2c3d")).toBe("anchor_1.2.3.0a1b2c3d.tmp");
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
      "anchor_0.3.0.0a1b2c3d.tmp",
      "loader.conf",
    ];
    const found = leftovers(files, "0.1.0");
    expect(found.rolledBack.map((e) => e.file)).toEqual(["anchor_0.2.0+0-3.efi"]);
    expect(found.partial).toEqual(["anchor_0.3.0.0a1b2c3d.tmp"]);
    // A newer entry with tries left is not a rollback (the person chose the older one from the menu).
    expect(leftovers(["anchor_0.2.0+1-2.efi"], "0.1.0").rolledBack).toEqual([]);
  });

  it("keeps a half-written name beside an entry of its version: a torn rename may have left both on one file's clusters", () => {
    expect(leftovers(["anchor_0.1.0.efi", "anchor_0.2.0.0a1b2c3d.tmp", "anchor_0.2.0+3.efi"], "0.1.0")).toMatchObject({
      partial: [],
      twins: ["anchor_0.2.0.0a1b2c3d.tmp"],
    });
  });

  it("clears the other slot only when no entry but the running version's could pin it", () => {
    // Cut before the new UKI's rename: only the running version is left.
    expect(
      otherVersionPinned(["anchor_0.1.0.efi", "anchor-installing.json", "anchor_0.2.0.0a1b2c3d.tmp"], "0.1.0"),
    ).toBe(false);
    // Cut after it (the mark not yet removed), and the new version now running: the fallback pins the other slot.
    expect(otherVersionPinned(["anchor_0.1.0.efi", "anchor_0.2.0.efi", "anchor-installing.json"], "0.2.0")).toBe(true);
    expect(otherVersionPinned(["anchor_0.2.0.efi", "anchor_0.2.0+2-1.efi"], "0.2.0")).toBe(false);
  });

  it("replaces every entry but the running version's (twins of it included), so the ESP holds two versions at most", () => {
    expect(
      replacedBy(
        ["anchor_0.1.0.efi", "anchor_0.2.0.efi", "anchor_0.2.0+2-1.efi", "anchor_0.3.0+0-3.efi", "x.txt"],
        "0.2.0",
      ),
    ).toEqual(["anchor_0.1.0.efi", "anchor_0.3.0+0-3.efi"]);
  });

  it("remembers the versions rolled back, the newest eight, and reads nothing from a file not its own", () => {
    let text: string | null = null;
    for (let minor = 1; minor <= 10; minor++) text = withRolledBack(text, `0.${minor}.0`);
    text = withRolledBack(text, "0.5.0");
    expect(rolledBackVersions(text)).toEqual(["0.3.0", "0.4.0", "0.6.0", "0.7.0", "0.8.0", "0.9.0", "0.10.0", "0.5.0"]);
    expect(rolledBackVersions('{"versions":["x"]}')).toEqual([]);
    expect(rolledBackVersions("not json")).toEqual([]);
    expect(rolledBackVersions(null)).toEqual([]);
  });
});
