import { describe, expect, it } from "vitest";
import { createLineSplitter } from "../../../sys/lines.ts";

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

describe("createLineSplitter", () => {
  it("joins chunks into lines and flushes the last partial line at the end", () => {
    const lines: string[] = [];
    const splitter = createLineSplitter((l) => lines.push(l));
    splitter.push(bytes("hel"));
    splitter.push(bytes("lo\r\nwor"));
    splitter.push(bytes("ld\n\nlast"));
    splitter.end();
    expect(lines).toEqual(["hello", "world", "", "last"]);
  });

  it("keeps a multi-byte character split across chunks intact", () => {
    const lines: string[] = [];
    const splitter = createLineSplitter((l) => lines.push(l));
    const euro = bytes("€\n");
    splitter.push(euro.slice(0, 1));
    splitter.push(euro.slice(1));
    expect(lines).toEqual(["€"]);
  });

  it("cuts lines longer than the bound instead of buffering them", () => {
    const lines: string[] = [];
    const splitter = createLineSplitter((l) => lines.push(l), 4);
    splitter.push(bytes("abcdefghij"));
    expect(lines).toEqual(["abcd", "efgh"]);
    splitter.push(bytes("\n0123456789\n"));
    expect(lines).toEqual(["abcd", "efgh", "ij", "0123", "4567", "89"]);
  });
});
