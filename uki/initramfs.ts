import { readFileSync, realpathSync } from "node:fs";
import type { CpioEntry } from "./cpio.ts";

/** Parses `ldd` output into the paths the dynamic loader will open. */
export function parseLdd(output: string): string[] {
  const paths = new Set<string>();
  for (const line of output.split("\n")) {
    const linked = /=>\s+(\/\S+)/.exec(line)?.[1] ?? /^\s*(\/\S+)\s+\(0x/.exec(line)?.[1];
    if (linked !== undefined) paths.add(linked);
  }
  return [...paths].sort();
}

/** A host file placed at the same path in the image (symlinks resolved to their content). */
export function hostFile(path: string, mode = 0o755, at = path): CpioEntry {
  return { kind: "file", path: at, mode, data: readFileSync(realpathSync(path)) };
}

/** The directories and device node every Anchor OS root needs before bay0 runs. */
export function skeleton(): CpioEntry[] {
  return [
    ...["proc", "sys", "dev", "run", "tmp", "etc", "sbin", "lib", "persist"].map((path): CpioEntry => ({
      kind: "dir",
      path,
      mode: path === "tmp" ? 0o1777 : 0o755,
    })),
    // The kernel opens /dev/console for init's stdio before anything is mounted.
    { kind: "char", path: "dev/console", mode: 0o600, major: 5, minor: 1 },
  ];
}

/** The image's os-release (os-release(5)): sd-boot and bay0 read its IMAGE_VERSION. */
export function osRelease(version: string): string {
  return [
    'NAME="Anchor OS"',
    "ID=anchor",
    `VERSION_ID=${version}`,
    "IMAGE_ID=anchor",
    `IMAGE_VERSION=${version}`,
    `PRETTY_NAME="Anchor OS ${version}"`,
    "",
  ].join("\n");
}
