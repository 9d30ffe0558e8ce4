/**
 * The attack-surface budget (`npm test` runs this first): counts the lines
 * of code that go into bay0, meaning the sources Bun's bundler keeps in the
 * release executable, without comments and blank lines, per folder. It lists
 * bay0's runtime dependencies and fails when a folder exceeds what README.md's
 * budget table allows, or when a dependency is not in that table.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

const ROOT = join(import.meta.dirname, "..");
const TABLE_START = "<!-- budget:start -->";
const TABLE_END = "<!-- budget:end -->";
const SHIM_BYTES = 32;
/** The specification's budget for PID 1. */
const SPEC_LINES = 3000;
const SPEC_DEPENDENCIES = 6;

type Metafile = {
  inputs: Record<string, { imports: { path: string }[] }>;
  outputs: Record<string, { inputs: Record<string, { bytesInOutput: number }> }>;
};

/**
 * Helpers: bay0's executable runs them as separate processes, never as PID 1
 * (the courier confined and unprivileged, the base images' mounting and
 * the vault's provisioning and opening as root).
 */
export const HELPER_ENTRIES: readonly string[] = [
  "console/main.ts",
  "courier/carry.ts",
  "courier/deliver.ts",
  "rooms/builder.ts",
  "rooms/mount-images.ts",
  "umbilical/serve.ts",
  "update/run.ts",
  "vault/open.ts",
  "vault/rekey.ts",
];

/**
 * Files reachable from `entry` through imports, not entering `stops`, nor
 * one of our files the release compiled out (`kept` lacks it: the test
 * hooks), whose imports PID 1 then never runs. A package's files are
 * followed whatever their size: its index only re-exports.
 */
export function reachable(
  inputs: Metafile["inputs"],
  entry: string,
  stops: readonly string[],
  kept: ReadonlySet<string> | null = null,
): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string): void => {
    if (
      seen.has(file) ||
      stops.includes(file) ||
      inputs[file] === undefined ||
      (kept !== null && file.endsWith(".ts") && !kept.has(file))
    )
      return;
    seen.add(file);
    for (const { path } of inputs[file].imports) visit(path);
  };
  visit(entry);
  return seen;
}

/** Lines that are neither blank nor only comment (line comments, block comments and their continuation lines). */
export function codeLines(source: string): number {
  let count = 0;
  let inBlock = false;
  for (const raw of source.split("\n")) {
    const line = raw.trim();
    if (inBlock) {
      if (line.includes("*/")) inBlock = false;
      continue;
    }
    if (line === "" || line.startsWith("//")) continue;
    if (line.startsWith("/*")) {
      inBlock = !line.includes("*/");
      continue;
    }
    count++;
  }
  return count;
}

/** The README's table: folder (or dependency) -> allowed lines (null for a dependency row). */
export function parseBudgetTable(readme: string): {
  folders: Map<string, number>;
  dependencies: Set<string>;
  total: number;
} {
  const start = readme.indexOf(TABLE_START);
  const end = readme.indexOf(TABLE_END);
  if (start < 0 || end < start)
    throw new Error(`README.md has no budget table between ${TABLE_START} and ${TABLE_END}`);
  const folders = new Map<string, number>();
  const dependencies = new Set<string>();
  let total = 0;
  for (const row of readme.slice(start, end).split("\n")) {
    const cells = row.split("|").map((c) => c.trim());
    const name = /^`([^`]+)`$/.exec(cells[1] ?? "")?.[1];
    if (name === undefined) continue;
    const allowed = Number.parseInt(cells[3] ?? "", 10);
    if (name.endsWith("/") && Number.isInteger(allowed)) folders.set(name.slice(0, -1), allowed);
    else if (name === "bay0") total = allowed;
    else dependencies.add(name);
  }
  return { folders, dependencies, total };
}

async function main(): Promise<void> {
  const build = await Bun.build({
    entrypoints: [join(ROOT, "init", "main.ts")],
    target: "bun",
    minify: true,
    metafile: true,
    define: { ANCHOR_TEST_HOOKS: "false" },
  });
  if (!build.success) throw new Error(`bundling bay0 failed: ${build.logs.join("\n")}`);
  const metafile = (build as unknown as { metafile: Metafile }).metafile;
  // A file whose code was compiled out still leaves a few bytes of the bundler's module shim.
  const kept = new Set(
    Object.values(metafile.outputs).flatMap((o) =>
      Object.entries(o.inputs)
        .filter(([, i]) => i.bytesInOutput > SHIM_BYTES)
        .map(([file]) => file),
    ),
  );
  const pid1 = reachable(metafile.inputs, "init/main.ts", HELPER_ENTRIES, kept);
  const perFolder = new Map<string, number>();
  const packages = new Set<string>();
  const packageOf = (file: string): string | undefined => /^node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(file)?.[1];
  for (const file of kept) {
    if (!pid1.has(file)) continue;
    const pkg = packageOf(file);
    if (pkg !== undefined) packages.add(pkg);
    else if (file.endsWith(".ts")) {
      const folder = file.includes("/") ? file.slice(0, file.lastIndexOf("/")) : ".";
      perFolder.set(folder, (perFolder.get(folder) ?? 0) + codeLines(readFileSync(join(ROOT, file), "utf8")));
    }
  }
  const problems: string[] = [];
  let budget: ReturnType<typeof parseBudgetTable> = { folders: new Map(), dependencies: new Set(), total: 0 };
  try {
    budget = parseBudgetTable(readFileSync(join(ROOT, "README.md"), "utf8"));
  } catch (error) {
    problems.push(String(error));
  }
  const declared = (
    JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string> }
  ).dependencies;
  const say = (line: string): void => void process.stdout.write(`[budget] ${line}\n`);
  let total = 0;
  for (const [folder, lines] of [...perFolder].sort()) {
    const top = folder.split("/")[0] ?? folder;
    total += lines;
    say(`${folder.padEnd(14)} ${String(lines).padStart(5)} lines`);
    if (!budget.folders.has(top))
      problems.push(`${folder}/ goes into bay0 but README.md's budget table has no row for ${top}/`);
  }
  for (const [folder, allowed] of budget.folders) {
    const lines = [...perFolder]
      .filter(([f]) => f === folder || f.startsWith(`${folder}/`))
      .reduce((n, [, l]) => n + l, 0);
    if (lines > allowed) problems.push(`${folder}/ has ${lines} lines of bay0 code; README.md allows ${allowed}`);
  }
  const gap = total - SPEC_LINES;
  say(
    `${"bay0".padEnd(14)} ${String(total).padStart(5)} lines (README allows ${budget.total}; ${gap > 0 ? `${gap} over` : `${-gap} under`} the specification's ${SPEC_LINES})`,
  );
  if (total > budget.total) problems.push(`bay0 has ${total} lines; README.md allows ${budget.total}`);
  say(`runtime dependencies (${packages.size}): ${[...packages].sort().join(", ")}`);
  // Each helper apart: what its entry reaches that PID 1 does not run (the rest is shared code, counted above).
  const used = new Set(packages);
  for (const entry of HELPER_ENTRIES) {
    const own = [
      ...reachable(
        metafile.inputs,
        entry,
        HELPER_ENTRIES.filter((e) => e !== entry),
        kept,
      ),
    ].filter((file) => !pid1.has(file));
    const lines = own
      .filter((f) => f.endsWith(".ts"))
      .reduce((n, f) => n + codeLines(readFileSync(join(ROOT, f), "utf8")), 0);
    const deps = [...new Set(own.flatMap((f) => packageOf(f) ?? []))].sort();
    for (const pkg of deps) used.add(pkg);
    say(
      `helper ${entry.padEnd(22)} ${String(lines).padStart(5)} lines outside PID 1${deps.length > 0 ? ` (and ${deps.join(", ")})` : ""}`,
    );
  }
  for (const pkg of used)
    if (!budget.dependencies.has(pkg))
      problems.push(`dependency ${pkg} is in bay0's executable but not in README.md's budget table`);
  for (const pkg of Object.keys(declared))
    if (!used.has(pkg)) problems.push(`dependency ${pkg} is declared but bay0's executable does not use it`);
  if (packages.size > SPEC_DEPENDENCIES)
    problems.push(`PID 1 has ${packages.size} runtime dependencies; the spec allows ${SPEC_DEPENDENCIES}`);
  for (const problem of problems) process.stderr.write(`[budget] over budget: ${problem}\n`);
  if (problems.length > 0) process.exit(1);
}

if (import.meta.main) await main();
