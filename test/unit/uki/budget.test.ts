import { describe, expect, it } from "vitest";
import { codeLines, parseBudgetTable, reachable } from "../../../uki/budget.ts";

describe("codeLines", () => {
  it("counts code, not blank lines or comments", () => {
    const source = [
      "/**",
      " * doc",
      " */",
      "import x from 'y';",
      "",
      "// why",
      "const a = 1; // trailing",
      "/* one */",
      "export { a };",
    ].join("\n");
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

describe("reachable", () => {
  it("follows imports from the entry and stops at the helper's entry, so code only the helper runs is counted apart", () => {
    const inputs = {
      "init/main.ts": { imports: [{ path: "sys/log.ts" }, { path: "courier/deliver.ts" }, { path: "fs" }] },
      "sys/log.ts": { imports: [] },
      "courier/deliver.ts": { imports: [{ path: "courier/names.ts" }, { path: "courier/copy.ts" }] },
      "courier/names.ts": { imports: [] },
      "courier/copy.ts": { imports: [] },
    };
    expect([...reachable(inputs, "init/main.ts", ["courier/deliver.ts"])].sort()).toEqual([
      "init/main.ts",
      "sys/log.ts",
    ]);
    expect([...reachable(inputs, "init/main.ts", [])]).toHaveLength(5);
    // The release compiled deliver.ts out: what only it imports is not PID 1's either.
    expect(
      [...reachable(inputs, "init/main.ts", [], new Set(["init/main.ts", "sys/log.ts", "courier/names.ts"]))].sort(),
    ).toEqual(["init/main.ts", "sys/log.ts"]);
    // A package's index, all re-exports, leaves no code of its own but leads to what does.
    const withPackage = {
      "init/main.ts": { imports: [{ path: "node_modules/zod/index.js" }] },
      "node_modules/zod/index.js": { imports: [{ path: "node_modules/zod/v4/core.js" }] },
      "node_modules/zod/v4/core.js": { imports: [] },
    };
    expect(
      reachable(withPackage, "init/main.ts", [], new Set(["init/main.ts", "node_modules/zod/v4/core.js"])).has(
        "node_modules/zod/v4/core.js",
      ),
    ).toBe(true);
  });
});
