import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { stringify as stringifyToml } from "smol-toml";
import { describe, expect, it } from "vitest";
import { formatPolicyError, indexKeys, locateKey, parsePolicy } from "../../../policies/parse.ts";
import { policySchema } from "../../../policies/schema.ts";

const POLICIES = join(import.meta.dirname, "../../../policies");
const MINIMAL = 'name = "t"\nimage = "minimal"\ncommand = ["/bin/true"]\n';

describe("shipped policies", () => {
  const files = readdirSync(POLICIES).filter((f) => f.endsWith(".toml"));
  it("include web, work, workshop, shell and the documented example", () => {
    expect(files.sort()).toEqual(["example.toml", "shell.toml", "web.toml", "work.toml", "workshop.toml"]);
  });
  it.each(files)("%s is valid", (file) => {
    const result = parsePolicy(readFileSync(join(POLICIES, file), "utf8"), file);
    expect(result.ok ? [] : result.errors.map(formatPolicyError)).toEqual([]);
  });
  it("the example documents every top-level field of the schema", () => {
    const text = readFileSync(join(POLICIES, "example.toml"), "utf8");
    for (const field of [
      "name",
      "image",
      "command",
      "env",
      "hostname",
      "user",
      "namespaces",
      "capabilities",
      "network",
      "[limits]",
      "[storage]",
      "[seccomp]",
      "[rlimits]",
      "[vault]",
      "[umbilical]",
      "[nesting]",
    ]) {
      expect(text).toContain(field);
    }
  });
});

describe("parsePolicy", () => {
  it("fills safe defaults: all namespaces, no capabilities, no network, no vault, no nesting", () => {
    const result = parsePolicy(MINIMAL, "t.toml");
    if (!result.ok) throw new Error(result.errors.map(formatPolicyError).join("\n"));
    expect(result.policy).toMatchObject({
      namespaces: ["pid", "mount", "uts", "ipc", "network", "cgroup", "user"],
      capabilities: [],
      network: "none",
      user: { uid: 1000, gid: 1000 },
      umbilical: { allow: [] },
      nesting: { allowed: false, max_depth: 0 },
      limits: { memory_max: 256 * 1024 * 1024, pids_max: 256 },
    });
    expect(result.policy.vault).toBeUndefined();
  });

  it("names file, line, column and field for a bad value", () => {
    const result = parsePolicy(`${MINIMAL}\n[limits]\nmemory_max = "lots"\n`, "policies/x.toml");
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors.map(formatPolicyError)).toEqual([
      'policies/x.toml:6:1: limits.memory_max: memory_max must be a size such as "256M" (units K, M, G) or a number of bytes',
    ]);
  });

  it("validates a validated policy again to itself (the room builder checks what bay0 sends), sizes as bytes", () => {
    for (const file of readdirSync(POLICIES).filter((f) => f.endsWith(".toml"))) {
      const result = parsePolicy(readFileSync(join(POLICIES, file), "utf8"), file);
      if (!result.ok) throw new Error(file);
      expect(policySchema.parse(JSON.parse(JSON.stringify(result.policy)))).toEqual(result.policy);
    }
    const bytes = parsePolicy(`${MINIMAL}[limits]\nmemory_max = 8388608\n`, "t.toml");
    expect(bytes.ok && bytes.policy.limits.memory_max).toBe(8 * 1024 * 1024);
    // Only sizes a byte count can say again exactly.
    const huge = parsePolicy(`${MINIMAL}[limits]\nmemory_max = "8388608G"\n`, "t.toml");
    expect(huge.ok ? [] : huge.errors.map(formatPolicyError)).toEqual([
      "t.toml:5:1: limits.memory_max: memory_max is too large",
    ]);
  });

  it("reports unknown fields, wrong types and missing fields in plain words", () => {
    const result = parsePolicy('name = "t"\nimage = 3\nnetwork = "internet"\ncolour = "red"\n', "t.toml");
    if (result.ok) throw new Error("accepted");
    expect(result.errors.map(formatPolicyError).sort()).toEqual([
      "t.toml:1:1: command: is required",
      "t.toml:2:1: image: must be a string",
      't.toml:3:1: network: must be "none" or "loopback"',
      "t.toml:4:1: colour: unknown field 'colour'",
    ]);
  });

  it("reports TOML syntax errors with their position", () => {
    const result = parsePolicy('name = "t"\ncommand = [\n', "t.toml");
    if (result.ok) throw new Error("accepted");
    expect(result.errors[0]).toMatchObject({ file: "t.toml", line: 3, field: "" });
    expect(result.errors[0]?.message).toMatch(/^invalid TOML/);
  });

  it("refuses unknown capabilities and namespaces", () => {
    const result = parsePolicy(`${MINIMAL}capabilities = ["CAP_SYS_ADMIN"]\nnamespaces = ["pid", "time"]\n`, "t.toml");
    if (result.ok) throw new Error("accepted");
    expect(result.errors.map((e) => e.field).sort()).toEqual(["capabilities.0", "namespaces.1"]);
  });
});

describe("locateKey", () => {
  const text = indexKeys('name = "x"\n\n[limits]\n  pids_max = 3\n[nesting]\nallowed = true\n');
  it("finds keys in tables, tables, and falls back to the top", () => {
    expect(locateKey(text, ["limits", "pids_max"])).toEqual({ line: 4, column: 3 });
    expect(locateKey(text, ["nesting"])).toEqual({ line: 5, column: 1 });
    expect(locateKey(text, ["nesting", "max_depth"])).toEqual({ line: 5, column: 1 });
    expect(locateKey(text, ["name"])).toEqual({ line: 1, column: 1 });
    expect(locateKey(text, ["nowhere"])).toEqual({ line: 1, column: 1 });
  });

  it("finds quoted keys, dotted keys at the top and keys of inline tables' parents", () => {
    const index = indexKeys('"name" = "x"\nlimits.pids_max = 0\nuser = { uid = -1 }\n[seccomp]\ndeny = [1]\n');
    expect(locateKey(index, ["name"])).toEqual({ line: 1, column: 1 });
    expect(locateKey(index, ["limits", "pids_max"])).toEqual({ line: 2, column: 1 });
    expect(locateKey(index, ["user", "uid"])).toEqual({ line: 3, column: 1 });
    expect(locateKey(index, ["seccomp", "deny", 0])).toEqual({ line: 5, column: 1 });
  });
});

/**
 * A room sends policies through room.spawn, and PID 1 parses them: the
 * work must stay bounded whatever the text. Before the line index, each of
 * these 16,000 errors rescanned every line with fresh regular expressions,
 * which took minutes; the test's timeout is the bound, far above what a
 * linear parse takes even on a slow host.
 */
describe("parsePolicy on hostile policies at the umbilical's frame limit", () => {
  const FRAME = 32768;
  const blanksThenDeny = (blanks: number): string => {
    const head = `name = "h"\nimage = "minimal"\ncommand = ["/x"]\n${"\n".repeat(blanks)}[seccomp]\ndeny = [`;
    return `${head}${"1,".repeat((FRAME - head.length - 2) / 2)}1]`.slice(0, FRAME - 1) + "]";
  };

  it(
    "refuses a list too long for the schema at once, located, before checking a single entry",
    { timeout: 20_000 },
    () => {
      for (const text of [blanksThenDeny(8000), blanksThenDeny(100)]) {
        const result = parsePolicy(text, "room:umbilical");
        if (result.ok) throw new Error("accepted");
        expect(result.errors).toEqual([
          {
            file: "room:umbilical",
            line: text.split("\n").length,
            column: 1,
            field: "seccomp.deny",
            message: "must be a list of at most 512 entries",
          },
        ]);
      }
    },
  );

  it("reports at most ten located problems and a count of the rest", { timeout: 20_000 }, () => {
    const result = parsePolicy(
      `name = "h"\nimage = "minimal"\ncommand = ["/x"]\n[seccomp]\ndeny = [${"1,".repeat(500)}1]\n`,
      "room:umbilical",
    );
    if (result.ok) throw new Error("accepted");
    expect(result.errors).toHaveLength(11);
    expect(result.errors[0]).toMatchObject({ line: 5, field: "seccomp.deny.0", message: "must be a string" });
    expect(result.errors[10]?.message).toBe("and 491 more problems");
  });

  it("refuses a document of more values than any policy has", () => {
    const tables = Array.from(
      { length: 600 },
      (_, i) => `[env${i}]\n${Array.from({ length: 8 }, (_, j) => `k${j} = ${j}`).join("\n")}`,
    ).join("\n");
    const result = parsePolicy(`name = "h"\nimage = "minimal"\ncommand = ["/x"]\n${tables}\n`, "room:umbilical");
    if (result.ok) throw new Error("accepted");
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]?.message).toBe("the policy has more than 4096 values");
  });

  it("names five unknown keys of thousands and counts the rest", { timeout: 20_000 }, () => {
    const keys = Array.from({ length: 3000 }, (_, i) => `k${i} = 1`).join("\n");
    const result = parsePolicy(`name = "h"\nimage = "minimal"\ncommand = ["/x"]\n${keys}\n`, "room:umbilical");
    if (result.ok) throw new Error("accepted");
    expect(result.errors[0]?.message).toBe("unknown fields 'k0', 'k1', 'k2', 'k3', 'k4' and 2995 more");
  });
});

describe("parsePolicy under 10,000 generated bad policies", () => {
  const badValue = fc.oneof(
    fc.integer(),
    fc.double(),
    fc.string(),
    fc.boolean(),
    fc.array(fc.oneof(fc.string(), fc.integer()), { maxLength: 3 }),
    fc.constant("-1M"),
    fc.constant(""),
  );
  const toml = (v: unknown): string =>
    typeof v === "string"
      ? JSON.stringify(v)
      : Array.isArray(v)
        ? `[${v.map(toml).join(", ")}]`
        : Number.isNaN(v)
          ? "nan"
          : String(v);
  const field = fc.constantFrom(
    "name",
    "image",
    "command",
    "hostname",
    "network",
    "capabilities",
    "namespaces",
    "env",
    "user",
    "colour",
  );
  const table = fc.constantFrom("limits", "storage", "seccomp", "nesting", "umbilical", "vault", "rlimits", "nonsense");
  const key = fc.constantFrom(
    "memory_max",
    "pids_max",
    "cpu_max",
    "tmpfs_size",
    "deny",
    "allowed",
    "max_depth",
    "allow",
    "folder",
    "nofile",
    "x",
  );
  const garbage = fc.string({ maxLength: 60 });
  const policyText = fc.oneof(
    fc.tuple(field, badValue).map(([f, v]) => `${MINIMAL}${f} = ${toml(v)}\n`),
    fc.tuple(table, key, badValue).map(([t, k, v]) => `${MINIMAL}[${t}]\n${k} = ${toml(v)}\n`),
    garbage,
    fc.tuple(garbage, garbage).map(([a, b]) => `${MINIMAL}${a}\n${b}`),
  );

  it("never throws, and every rejection carries a located message", () => {
    let rejected = 0;
    fc.assert(
      fc.property(policyText, (text) => {
        const result = parsePolicy(text, "gen.toml");
        if (result.ok) return true;
        rejected += 1;
        return (
          result.errors.length > 0 &&
          result.errors.every((e) => e.message.length > 0 && e.line >= 1 && e.column >= 1 && e.file === "gen.toml")
        );
      }),
      { numRuns: 10_000 },
    );
    expect(rejected).toBeGreaterThan(9_000);
  });
});

describe("parsePolicy under arbitrary keys, tables and values", () => {
  const anyKey = fc.oneof(
    fc.string({ minLength: 1 }),
    fc.constantFrom("pids_max(", "a.b", "[x]", "(?<", "\\", "$", "*", '"', "limits", "name"),
  );
  const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
    leaf: fc.oneof(fc.string(), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean()),
    node: fc.oneof(
      { depthSize: "small" },
      tie("leaf"),
      fc.array(tie("leaf"), { maxLength: 3 }),
      fc.dictionary(anyKey, tie("node"), { maxKeys: 3 }).map((d) => ({ ...d })),
    ),
  })).node;
  /** Valid TOML for any document: keys and tables of any name, values of any shape, written by smol-toml. */
  const document = fc
    .dictionary(anyKey, value, { maxKeys: 6 })
    .map((d) => stringifyToml({ name: "t", image: "minimal", command: ["/bin/true"], ...d }));

  it("keeps the reported case: a key with regular-expression characters in a table", () => {
    const result = parsePolicy(`${MINIMAL}[limits]\n"pids_max(" = 5\n`, "odd.toml");
    expect(result.ok).toBe(false);
    if (!result.ok)
      expect(result.errors[0]).toMatchObject({
        field: "limits.pids_max(",
        line: 5,
        message: "unknown field 'pids_max('",
      });
    const dotted = parsePolicy(`${MINIMAL}limits."(+" = 1\n`, "odd.toml");
    expect(dotted.ok).toBe(false);
  });

  it("never throws on any document, and every rejection is located", () => {
    fc.assert(
      fc.property(document, (text) => {
        const result = parsePolicy(text, "any.toml");
        return (
          result.ok ||
          (result.errors.length > 0 && result.errors.every((e) => e.message.length > 0 && e.line >= 1 && e.column >= 1))
        );
      }),
      { numRuns: 5_000 },
    );
  });
});

describe("room identities", () => {
  const named = (name: string) =>
    parsePolicy(`name = ${JSON.stringify(name)}\nimage = "minimal"\ncommand = ["/bin/true"]\n`, "n.toml");

  it("refuses '--', which joins nested names: a top-level 'a--b' would be the child b of a", () => {
    const result = named("a--b");
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors[0]?.message).toMatch(/must not contain '--'/);
    expect(named("a-b").ok).toBe(true);
  });

  it("refuses 'room', which names every room's own leaf cgroup", () => {
    const result = named("room");
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors[0]?.message).toMatch(/'room' is reserved/);
  });

  it("refuses a policy that drops a namespace, naming the missing one", () => {
    const result = parsePolicy(
      `${MINIMAL}namespaces = ["pid", "mount", "uts", "ipc", "network", "cgroup"]\n`,
      "ns.toml",
    );
    expect(result.ok).toBe(false);
    if (!result.ok)
      expect(result.errors[0]).toMatchObject({
        field: "namespaces",
        line: 4,
        message: expect.stringMatching(/missing user/),
      });
  });
});
