/** Runs an external tool (crun, veritysetup, ...) to completion. */
export type ToolResult = { status: number | null; stdout: string; stderr: string };
/** `env` adds to the runner's environment (a secret for the tool goes there, never into argv). */
export type ToolRunner = (argv: string[], env?: Record<string, string>) => Promise<ToolResult>;
