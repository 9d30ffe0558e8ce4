/** Runs an external tool (crun, veritysetup, ...) to completion. */
export type ToolResult = { status: number | null; stdout: string; stderr: string };
export type ToolRunner = (argv: string[]) => Promise<ToolResult>;
