import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { OUT } from "../qemu/vm.ts";
import { BOOT_TIMEOUT_MS, useProbeVm } from "./helpers.ts";

/** Short, but not so short that a guest starved of the host's CPU (TCG beside another VM) misses a feed before the wedge. */
const TIMEOUT_SEC = 10;
/** Slack for TCG scheduling and the serial line's trip to the host. */
const MARGIN_SEC = 5;

describe("hardware watchdog", () => {
  const booted = useProbeVm("watchdog", "wedge.sh", {
    append: [`anchor.watchdog_sec=${TIMEOUT_SEC}`],
    watchdogAction: "poweroff",
  });

  it("fires within timeout + margin once bay0's event loop wedges", async () => {
    const { vm } = booted;
    const armed = await vm.waitFor("watchdog.armed", 0);
    expect(armed.timeout_sec).toBe(TIMEOUT_SEC);
    const wedged = await vm.waitFor("test.wedging", BOOT_TIMEOUT_MS);
    const fired = await vm.qmp.waitForEvent("WATCHDOG", (TIMEOUT_SEC + MARGIN_SEC) * 1000 + 10_000);
    expect(fired.data?.action).toBe("poweroff");
    expect((fired.hostMs - wedged.hostMs) / 1000).toBeLessThan(TIMEOUT_SEC + MARGIN_SEC);
    // While the loop was alive the watchdog was fed: it did not fire before the wedge.
    expect(fired.hostMs).toBeGreaterThan(wedged.hostMs);
    await vm.waitForExit(30_000);
  });

  it("has no fault-injection hooks in the release build of bay0", () => {
    const marker = "test.wedging";
    expect(readFileSync(join(OUT, "test", "bay0")).includes(marker)).toBe(true);
    expect(readFileSync(join(OUT, "build", "bay0")).includes(marker)).toBe(false);
  });
});
