import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { IMAGE_VERSION } from "../update/bundle.ts";
import { osReleaseField } from "../sys/os-release.ts";
import { runHostTool } from "./host-tool.ts";

const ROOT = join(import.meta.dirname, "..");

/** The version a build takes unless `--version` says another: package.json's. */
export function packageVersion(): string {
  return z
    .object({ version: z.string().regex(IMAGE_VERSION, "must be X.Y.Z") })
    .parse(JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"))).version;
}

/** The IMAGE_VERSION a built UKI carries in its .osrel section. */
export function ukiVersion(uki: string): string {
  const scratch = mkdtempSync(join(tmpdir(), "anchor-osrel-"));
  try {
    const osrel = join(scratch, "osrel");
    runHostTool(["objcopy", "-O", "binary", "--only-section=.osrel", uki, osrel]);
    const version = osReleaseField(readFileSync(osrel, "utf8"), "IMAGE_VERSION");
    if (version === null || !IMAGE_VERSION.test(version)) throw new Error(`${uki} carries no IMAGE_VERSION X.Y.Z`);
    return version;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
