import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { CpioEntry } from "../../uki/cpio.ts";
import { OUT, ROOT } from "./vm.ts";

const PROBES = join(ROOT, "test", "probes");
const ROOM_POLICIES = join(ROOT, "test", "rooms", "policies");

/**
 * The test-only files a boot lays over the system image: busybox (from
 * Debian's busybox-static) and the probe scripts at /test/, the test rooms'
 * policies if asked, and for the stock kernel (whose initramfs is the whole
 * system) the test-hooks build of bay0 in place of the release one; the
 * hardened kernel's test boots pin the test system image instead, which
 * carries it (test/qemu/probe-image.ts).
 */
export function testOverlay(options: { roomPolicies?: boolean; plainBay0?: boolean } = {}): CpioEntry[] {
  const probes = readdirSync(PROBES).map((name): CpioEntry => ({
    kind: "file",
    path: `test/${name}`,
    mode: 0o755,
    data: readFileSync(join(PROBES, name)),
  }));
  return [
    { kind: "file", path: "test/busybox", mode: 0o755, data: readFileSync("/bin/busybox") },
    ...probes,
    ...(options.roomPolicies
      ? readdirSync(ROOM_POLICIES).map((name): CpioEntry => ({
          kind: "file",
          path: `etc/anchor/policies/${name}`,
          mode: 0o644,
          data: readFileSync(join(ROOM_POLICIES, name)),
        }))
      : []),
    ...(options.plainBay0
      ? [
          {
            kind: "file" as const,
            path: "usr/lib/bay0/bay0",
            mode: 0o755,
            data: readFileSync(join(OUT, "test", "bay0")),
          },
        ]
      : []),
  ];
}
