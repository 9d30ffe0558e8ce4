import { describe, expect, it } from "vitest";
import { codeLines, parseBudgetTable } from "../../../uki/budget.ts";

describe("codeLines", () => {
  it("counts code, not blank lines or comments", () => {
    const source = ["/**", " * doc", " */", "import x from 'y';", "", "// why", "const a = 1; // trailing", "/* one */", "export { a };"].join("\n");
    expect(codeLines(source)).toBe(3);
  });
});

describe("parseBudgetTable", () => {
  it("reads folder allowances, the whole's row and the dependencies between the markers", () => {
    const readme = [
      "| `init/` | 1 | 2 | not this table |",
      "<!-- budget:start -->",
      "| part | spec share | allowed | why |",
      "| `init/` | 1300 | 1650 | why |",
      "| `bay0` | 3000 | 3500 | whole |",
      "| `zod` | | | why |",
      "<!-- budget:end -->",
    ].join("\n");
    const table = parseBudgetTable(readme);
    expect([...table.folders]).toEqual([["init", 1650]]);
    expect(table.total).toBe(3500);
    expect([...table.dependencies]).toEqual(["zod"]);
  });

  it("refuses a README without the table", () => {
    expect(() => parseBudgetTable("# nothing")).toThrow(/no budget table/);
  });
});
