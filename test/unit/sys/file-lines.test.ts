import { afterEach, describe, expect, it } from "vitest";
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { linesOfFile } from "../../../sys/file-lines.ts";

const MIB = 1024 * 1024;
let dir = "";
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** The lines of a file holding `content`, read with `maxLineBytes`. */
function linesOf(content: string | Buffer, maxLineBytes = 4 * MIB): string[] {
  dir = mkdtempSync(join(tmpdir(), "file-lines-"));
  writeFileSync(join(dir, "f"), content);
  const fd = openSync(join(dir, "f"), "r");
  try {
    return [...linesOfFile(fd, maxLineBytes)];
  } finally {
    closeSync(fd);
  }
}

describe("linesOfFile", () => {
  it("splits as the whole text would: on \\n alone, empty lines kept, a last line without its newline included", () => {
    const content = 'a\r\n\n{"x":1}\nlast';
    expect(linesOf(content)).toEqual(["a\r", "", '{"x":1}', "last"]);
    expect(linesOf(`${content}\n`)).toEqual(["a\r", "", '{"x":1}', "last"]);
    expect(linesOf("")).toEqual([]);
  });

  it("joins a line, and a character, cut by the 1 MiB chunk boundary", () => {
    const first = "x".repeat(MIB - 2);
    // "é" is two bytes: the chunk ends between them.
    const second = `é${"y".repeat(10)}`;
    expect(linesOf(`${first}\n${second}\n${"z".repeat(2 * MIB)}`)).toEqual([first, second, "z".repeat(2 * MIB)]);
  });

  it("holds a chunk at a time: after the first line, the file is read up to 1 MiB and no further", () => {
    dir = mkdtempSync(join(tmpdir(), "file-lines-"));
    const content = Buffer.alloc(3 * MIB, "a");
    content[10] = 0x0a;
    content[MIB] = 0x42;
    writeFileSync(join(dir, "f"), content);
    const fd = openSync(join(dir, "f"), "r");
    try {
      const lines = linesOfFile(fd, 4 * MIB);
      expect(lines.next().value).toBe("a".repeat(10));
      const next = Buffer.alloc(1);
      readSync(fd, next);
      expect(next.toString()).toBe("B");
    } finally {
      closeSync(fd);
    }
  });

  it("refuses a line longer than its bound, whole in a chunk or across chunks", () => {
    expect(() => linesOf(`ok\n${"x".repeat(100)}\n`, 50)).toThrow("a line longer than 50 bytes");
    expect(() => linesOf("x".repeat(3 * MIB), MIB)).toThrow(`a line longer than ${MIB} bytes`);
    expect(linesOf(`${"x".repeat(50)}\n`, 50)).toEqual(["x".repeat(50)]);
  });
});
