/** Runs an external tool (crun, veritysetup, ...) to completion. */
export type ToolResult = { status: number | null; stdout: string; stderr: string };
/** `env` adds to the runner's environment and `input` is the tool's stdin: a secret goes there, never into argv. */
export type ToolRunner = (
  argv: string[],
  options?: { env?: Record<string, string>; input?: string },
) => Promise<ToolResult>;
