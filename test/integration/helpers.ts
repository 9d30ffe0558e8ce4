import { afterAll, beforeAll } from "vitest";
import { testOverlay } from "../qemu/overlay.ts";
import { Vm, type VmOptions } from "../qemu/vm.ts";

/** How long a boot to bay0.ready may take under TCG on a busy 2-core machine. */
export const BOOT_TIMEOUT_MS = 120_000;

/**
 * Boots one test VM (test overlay, an anchor.run probe) before a file's tests
 * and stops it after them; tests read it through the returned holder.
 */
export function useProbeVm(name: string, probe: string, options: Partial<VmOptions> = {}): { vm: Vm } {
  const holder = {} as { vm: Vm };
  beforeAll(async () => {
    holder.vm = await Vm.boot({
      name,
      noReboot: true,
      overlay: testOverlay(),
      ...options,
      append: [`anchor.run=/test/${probe}`, ...(options.append ?? [])],
    });
    await holder.vm.waitFor("bay0.ready", BOOT_TIMEOUT_MS);
  });
  afterAll(async () => {
    await holder.vm?.stop();
  });
  return holder;
}

/**
 * Boots a VM for tests that drive rooms: the test policies, the test images
 * on its disk (`images`), and the test port forwarded to bay0 by the
 * forward.sh probe. Resolves once the port forwards and `mounted` images are up.
 */
export async function bootRoomsVm(options: VmOptions & { mounted: string[]; plainBay0?: boolean }): Promise<Vm> {
  const { mounted, plainBay0, ...boot } = options;
  const vm = await Vm.boot({
    noReboot: true,
    testPort: true,
    ...boot,
    overlay: testOverlay({ roomPolicies: true, plainBay0: plainBay0 === true }),
    append: ["anchor.run=/test/forward.sh", ...(boot.append ?? [])],
  });
  await vm.waitFor("run.output", BOOT_TIMEOUT_MS, (r) => String(r.line).startsWith("forwarding"));
  for (const image of mounted) await vm.waitFor("image.mounted", BOOT_TIMEOUT_MS, (r) => r.image === image);
  return vm;
}

/** Parses /proc/self/mountinfo lines into mount point, options, type and super options. */
export function parseMountinfo(
  lines: string[],
): Map<string, { options: string[]; fstype: string; superOptions: string[] }> {
  const mounts = new Map<string, { options: string[]; fstype: string; superOptions: string[] }>();
  for (const line of lines) {
    const [left, right] = line.split(" - ");
    const fields = left?.split(" ") ?? [];
    const [fstype, , superOptions] = right?.split(" ") ?? [];
    const target = fields[4];
    if (target === undefined || fstype === undefined) continue;
    mounts.set(target, {
      options: (fields[5] ?? "").split(","),
      fstype,
      superOptions: (superOptions ?? "").split(","),
    });
  }
  return mounts;
}

/**
 * What the kernel says of a helper process (`bay0 MODE`), not what it says of itself: its Uid, Gid, Groups and
 * CapEff lines from /proc, through the forward.sh probe's shell.
 */
export async function helperIds(vm: Vm, mode: string, timeoutMs: number): Promise<string> {
  vm.send(
    `sh for p in /proc/[0-9]*; do case "$(tr '\\000' ' ' < $p/cmdline 2>/dev/null)" in "/usr/lib/bay0/bay0 ${mode} ") echo "${mode}-ids $(grep -E '^(Uid|Gid|Groups|CapEff):' $p/status | tr -s '\\t\\n' '  ')";; esac; done`,
  );
  const ids = await vm.waitFor("run.output", timeoutMs, (r) => String(r.line).startsWith(`${mode}-ids`));
  return String(ids.line);
}
