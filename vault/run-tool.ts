import { spawnSync } from "node:child_process";
import { VAULT_TOOLS } from "../init/layout.ts";
import { toolEnv } from "./tools.ts";

export type ToolResult = { ok: boolean; stdout: string; error: string };

/**
 * Runs one of the vault's tools from their image to its end, for the
 * vault's helpers (it blocks, which PID 1 never may): whether it succeeded,
 * what it printed, and its last line of complaint.
 */
export function runVaultTool(
  tool: string,
  args: string[],
  options: { input?: string; env?: Record<string, string> } = {},
): ToolResult {
  const result = spawnSync(`${VAULT_TOOLS}/bin/${tool}`, args, {
    input: options.input ?? "",
    encoding: "utf8",
    env: { ...toolEnv(), ...options.env },
  });
  const error = `${tool} ${args[0] ?? ""}: ${(result.stderr || String(result.error ?? "")).trim().split("\n").at(-1) ?? ""}`;
  return { ok: result.status === 0, stdout: result.stdout, error };
}
