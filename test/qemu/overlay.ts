import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { CpioEntry } from "../../uki/cpio.ts";
import { OUT, ROOT } from "./vm.ts";

const PROBES = join(ROOT, "test", "probes");
const ROOM_POLICIES = join(ROOT, "test", "rooms", "policies");

/**
 * The test-only files a boot adds to the image: busybox (from Debian's
 * busybox-static) and the probe scripts at /test/, and, unless `release` is
 * asked for, the test-hooks build of bay0 in place of the release one (as a
 * plain file for the stock kernel, which cannot mount its squashfs early).
 */
export function testOverlay(options: { release?: boolean; roomPolicies?: boolean; plainBay0?: boolean } = {}): CpioEntry[] {
  const probes = readdirSync(PROBES).map(
    (name): CpioEntry => ({ kind: "file", path: `test/${name}`, mode: 0o755, data: readFileSync(join(PROBES, name)) }),
  );
  return [
    { kind: "file", path: "test/busybox", mode: 0o755, data: readFileSync("/bin/busybox") },
    ...probes,
    ...(options.roomPolicies
      ? readdirSync(ROOM_POLICIES).map(
          (name): CpioEntry => ({ kind: "file", path: `etc/anchor/policies/${name}`, mode: 0o644, data: readFileSync(join(ROOM_POLICIES, name)) }),
        )
      : []),
    ...(options.release
      ? []
      : options.plainBay0
        ? [{ kind: "file" as const, path: "usr/lib/bay0/bay0", mode: 0o755, data: readFileSync(join(OUT, "test", "bay0")) }]
        : [{ kind: "file" as const, path: "bay0.squashfs", mode: 0o444, data: readFileSync(join(OUT, "test", "bay0.squashfs")) }]),
  ];
}
