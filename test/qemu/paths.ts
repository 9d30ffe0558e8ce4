import { join } from "node:path";

export const ROOT = join(import.meta.dirname, "..", "..");
export const OUT = join(ROOT, "out");
export const LOG_DIR = join(OUT, "test-logs");
