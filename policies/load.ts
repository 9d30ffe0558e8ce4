import { parsePolicy, type PolicyError } from "./parse.ts";
import type { Policy } from "./schema.ts";

export type PolicyFile = { path: string; text: string };

/**
 * Parses a directory's policy files. A broken file is reported and skipped;
 * the others still load. A policy's name must match its file name, so a
 * reader can find the policy of a room by its name.
 */
export function loadPolicies(files: PolicyFile[]): {
  policies: Map<string, { policy: Policy; data: Record<string, unknown> }>;
  rejected: PolicyError[];
} {
  const policies = new Map<string, { policy: Policy; data: Record<string, unknown> }>();
  const rejected: PolicyError[] = [];
  for (const file of [...files].sort((a, b) => a.path.localeCompare(b.path))) {
    const result = parsePolicy(file.text, file.path);
    if (!result.ok) {
      rejected.push(...result.errors);
      continue;
    }
    const stem = file.path
      .split("/")
      .pop()
      ?.replace(/\.toml$/, "");
    if (stem !== result.policy.name) {
      rejected.push({
        file: file.path,
        line: 1,
        column: 1,
        field: "name",
        message: `'${result.policy.name}' must match the file name '${stem}'`,
      });
      continue;
    }
    policies.set(result.policy.name, { policy: result.policy, data: result.data });
  }
  return { policies, rejected };
}
