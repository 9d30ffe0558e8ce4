import { describe, expect, it } from "vitest";
import { suffixed } from "../../../courier/deliver.ts";
import { fileNameOf, MAX_NAME_CHARS } from "../../../courier/names.ts";

describe("file names", () => {
  it("takes the last component of the path", () => {
    expect(fileNameOf("/tmp/report.txt")).toEqual({ ok: true, name: "report.txt" });
    expect(fileNameOf("notes")).toEqual({ ok: true, name: "notes" });
  });

  it.each([
    ["/tmp/", "the path names no file"],
    ["/tmp/..", "the path names no file"],
    ["/tmp/\u001b[2Jfake", "printable ASCII"],
    ["/tmp/evil\u202etxt.exe", "printable ASCII"],
    ["/tmp/r\u00e9sum\u00e9.pdf", "printable ASCII"],
    ["/tmp/.profile", "hidden files"],
    ["/tmp/ padded", "begin or end with a space"],
    [`/tmp/${"a".repeat(MAX_NAME_CHARS + 1)}`, `longer than ${MAX_NAME_CHARS}`],
  ])("refuses %j, saying why", (path, reason) => {
    const named = fileNameOf(path);
    expect(named.ok).toBe(false);
    expect(named.ok ? "" : named.reason).toContain(reason);
  });

  it("suffixes a taken name before its extension", () => {
    expect(suffixed("report.txt", 2)).toBe("report-2.txt");
    expect(suffixed("archive.tar.gz", 3)).toBe("archive-3.tar.gz");
    expect(suffixed("notes", 2)).toBe("notes-2");
  });
});
