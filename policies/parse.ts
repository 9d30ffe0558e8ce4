import { parse as parseToml, TomlError } from "smol-toml";
import type { z } from "zod";
import { policySchema, type Policy } from "./schema.ts";

/** A policy problem, located for a human: file:line:col, the field, and what is wrong. */
export type PolicyError = { file: string; line: number; column: number; field: string; message: string };

export type PolicyResult = { ok: true; policy: Policy } | { ok: false; errors: PolicyError[] };

/** "file:3:1: limits.memory_max: must be a size such as ..." */
export function formatPolicyError(e: PolicyError): string {
  return `${e.file}:${e.line}:${e.column}: ${e.field === "" ? "" : `${e.field}: `}${e.message}`;
}

/** A key as a literal inside a regular expression: keys come from the policy file, so any character may appear. */
const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

const headerOf = (line: string): string[] | null => {
  const m = /^\s*\[\s*([A-Za-z0-9_.\s"-]+?)\s*\]\s*(#.*)?$/.exec(line);
  return m?.[1] === undefined ? null : m[1].split(".").map((p) => p.trim().replace(/^"|"$/g, ""));
};

/**
 * Where a key path is written in TOML source: the line of `key =` inside its
 * table (or an inline table on its parent's line), else the table header,
 * else the top of the file. smol-toml keeps no positions for values.
 */
export function locateKey(text: string, path: (string | number)[]): { line: number; column: number } {
  const keys = path.filter((p): p is string => typeof p === "string");
  const lines = text.split("\n");
  for (let depth = keys.length; depth > 0; depth--) {
    const table = keys.slice(0, depth - 1);
    const key = keys[depth - 1] ?? "";
    let current: string[] = [];
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i] ?? "";
      const header = headerOf(line);
      if (header) {
        current = header;
        if (header.join(".") === keys.slice(0, depth).join(".")) return { line: i + 1, column: line.indexOf("[") + 1 };
        continue;
      }
      const inTable = current.join(".") === table.join(".");
      const direct = new RegExp(`^\\s*("?)${escapeRegExp(key)}\\1\\s*=`).exec(line);
      if (inTable && direct) return { line: i + 1, column: line.indexOf(key) + 1 - (direct[1] ? 1 : 0) };
      const dotted = table.length > 0 && current.length === 0 && new RegExp(`^\\s*${[...table, key].map(escapeRegExp).join("\\.")}\\s*=`).test(line);
      if (dotted) return { line: i + 1, column: line.search(/\S/) + 1 };
    }
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

const describeIssue = (issue: z.core.$ZodIssue, data: unknown): string => {
  if (issue.code === "unrecognized_keys") return `unknown field${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `'${k}'`).join(", ")}`;
  if (issue.code === "invalid_type") return present(data, issue.path) ? `must be ${issue.expected === "array" ? "a list" : `a ${issue.expected}`}` : "is required";
  return issue.message;
};

/** Parses and validates one policy file's text. Never throws; every problem names where it is. */
export function parsePolicy(text: string, file: string): PolicyResult {
  let data: unknown;
  try {
    data = parseToml(text);
  } catch (error) {
    if (error instanceof TomlError) {
      const message = error.message.split("\n")[0]?.replace(/^Invalid TOML document: /, "") ?? "invalid TOML";
      return { ok: false, errors: [{ file, line: error.line, column: error.column, field: "", message: `invalid TOML: ${message}` }] };
    }
    return { ok: false, errors: [{ file, line: 1, column: 1, field: "", message: `invalid TOML: ${String(error)}` }] };
  }
  const parsed = policySchema.safeParse(data);
  if (parsed.success) return { ok: true, policy: parsed.data };
  return {
    ok: false,
    errors: parsed.error.issues.map((issue) => {
      const path = issue.code === "unrecognized_keys" ? [...issue.path, issue.keys[0] ?? ""] : issue.path;
      const at = locateKey(text, path.filter((p): p is string | number => typeof p !== "symbol"));
      return { file, ...at, field: path.map(String).join("."), message: describeIssue(issue, data) };
    }),
  };
}
