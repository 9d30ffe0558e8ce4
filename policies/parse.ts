import { parse as parseToml, TomlError } from "smol-toml";
import type { z } from "zod";
import { policySchema, type Policy } from "./schema.ts";

/** A policy problem, located for a human: file:line:col, the field, and what is wrong. */
export type PolicyError = { file: string; line: number; column: number; field: string; message: string };

/** `data`: what the TOML held, plain JSON, which bay0 validates again when a helper parsed it (policies/schema.ts). */
export type PolicyResult =
  { ok: true; policy: Policy; data: Record<string, unknown> } | { ok: false; errors: PolicyError[] };

/** "file:3:1: limits.memory_max: must be a size such as ..." */
export function formatPolicyError(e: PolicyError): string {
  return `${e.file}:${e.line}:${e.column}: ${e.field === "" ? "" : `${e.field}: `}${e.message}`;
}

const headerOf = (line: string): string[] | null => {
  const m = /^\s*\[\s*([A-Za-z0-9_.\s"-]+?)\s*\]\s*(#.*)?$/.exec(line);
  return m?.[1] === undefined ? null : m[1].split(".").map((p) => p.trim().replace(/^"|"$/g, ""));
};

type Position = { line: number; column: number };

/**
 * Where each table header and each `key =` is written, found in one pass
 * over the source: a located error then costs a lookup, not a rescan, so a
 * hostile policy with thousands of errors costs no more than reading it.
 * Keys are stored as their full dotted path ("limits.pids_max"); a dotted
 * key at the top ("limits.pids_max = 1") is stored under its path too.
 */
export function indexKeys(text: string): Map<string, Position> {
  const index = new Map<string, Position>();
  const add = (path: string, at: Position): void => void (index.has(path) || index.set(path, at));
  let table: string[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? "";
    const header = headerOf(line);
    if (header) {
      table = header;
      add(header.join("."), { line: i + 1, column: line.indexOf("[") + 1 });
      continue;
    }
    const key = /^(\s*)(?:"([^"]*)"|([A-Za-z0-9_.-]+))\s*=/.exec(line);
    if (!key) continue;
    const [, indent = "", quoted, bare = ""] = key;
    const path =
      quoted !== undefined
        ? [...table, quoted]
        : !bare.includes(".")
          ? [...table, bare]
          : table.length === 0
            ? bare.split(".")
            : null;
    if (path) add(path.join("."), { line: i + 1, column: indent.length + 1 });
  }
  return index;
}

/**
 * Where a key path is written in TOML source: the line of `key =` inside its
 * table, else its nearest table header, else the top of the file.
 * smol-toml keeps no positions for values.
 */
export function locateKey(index: Map<string, Position>, path: (string | number)[]): Position {
  const keys = path.filter((p): p is string => typeof p === "string");
  for (let depth = keys.length; depth > 0; depth--) {
    const found = index.get(keys.slice(0, depth).join("."));
    if (found) return found;
  }
  return { line: 1, column: 1 };
}

const present = (data: unknown, path: PropertyKey[]): boolean => {
  let node: unknown = data;
  for (const key of path) {
    if (typeof node !== "object" || node === null || !(key in node)) return false;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return true;
};

/** Unknown keys named in one message; the rest are counted. */
const KEYS_NAMED = 5;

const describeIssue = (issue: z.core.$ZodIssue, data: unknown): string => {
  if (issue.code === "unrecognized_keys") {
    const named = issue.keys
      .slice(0, KEYS_NAMED)
      .map((k) => `'${k}'`)
      .join(", ");
    return `unknown field${issue.keys.length > 1 ? "s" : ""} ${named}${issue.keys.length > KEYS_NAMED ? ` and ${issue.keys.length - KEYS_NAMED} more` : ""}`;
  }
  if (issue.code === "invalid_type")
    return present(data, issue.path)
      ? `must be ${issue.expected === "array" ? "a list" : `a ${issue.expected}`}`
      : "is required";
  return issue.message;
};

/**
 * The shape a policy may have before the schema looks at it: the schema's
 * work grows with every value it checks (a list of 16,000 wrong entries is
 * 16,000 issues), so a document with a longer list or more values in all
 * is refused first, in one walk. No real policy comes near either bound.
 */
const LIST_MAX = 512;
const VALUES_MAX = 4096;

/** The path of the first list longer than LIST_MAX, or of the value past VALUES_MAX; null when the document fits. */
export function oversizedAt(data: unknown): { path: string[]; message: string } | null {
  let values = 0;
  const walk = (node: unknown, path: string[]): { path: string[]; message: string } | null => {
    values += 1;
    if (values > VALUES_MAX) return { path, message: `the policy has more than ${VALUES_MAX} values` };
    if (Array.isArray(node)) {
      if (node.length > LIST_MAX) return { path, message: `must be a list of at most ${LIST_MAX} entries` };
      for (const item of node) {
        const found = walk(item, path);
        if (found) return found;
      }
    } else if (typeof node === "object" && node !== null && !(node instanceof Date)) {
      for (const [key, value] of Object.entries(node)) {
        const found = walk(value, [...path, key]);
        if (found) return found;
      }
    }
    return null;
  };
  return walk(data, []);
}

/** Problems reported per policy: enough to fix a file, and a bound on what a hostile one makes bay0 write. */
const ERRORS_REPORTED = 10;

/** Parses and validates one policy file's text. Never throws; every problem names where it is. */
export function parsePolicy(text: string, file: string): PolicyResult {
  let data: Record<string, unknown>;
  try {
    data = parseToml(text);
  } catch (error) {
    if (error instanceof TomlError) {
      const message = error.message.split("\n")[0]?.replace(/^Invalid TOML document: /, "") ?? "invalid TOML";
      return {
        ok: false,
        errors: [{ file, line: error.line, column: error.column, field: "", message: `invalid TOML: ${message}` }],
      };
    }
    return { ok: false, errors: [{ file, line: 1, column: 1, field: "", message: `invalid TOML: ${String(error)}` }] };
  }
  const index = indexKeys(text);
  const oversized = oversizedAt(data);
  if (oversized)
    return {
      ok: false,
      errors: [
        { file, ...locateKey(index, oversized.path), field: oversized.path.join("."), message: oversized.message },
      ],
    };
  const parsed = policySchema.safeParse(data);
  if (parsed.success) return { ok: true, policy: parsed.data, data };
  const { issues } = parsed.error;
  const errors = issues.slice(0, ERRORS_REPORTED).map((issue): PolicyError => {
    const path = issue.code === "unrecognized_keys" ? [...issue.path, issue.keys[0] ?? ""] : issue.path;
    const at = locateKey(
      index,
      path.filter((p): p is string | number => typeof p !== "symbol"),
    );
    return { file, ...at, field: path.map(String).join("."), message: describeIssue(issue, data) };
  });
  if (issues.length > ERRORS_REPORTED)
    errors.push({
      file,
      line: 1,
      column: 1,
      field: "",
      message: `and ${issues.length - ERRORS_REPORTED} more problems`,
    });
  return { ok: false, errors };
}
