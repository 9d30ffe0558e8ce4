import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { probeImage } from "../qemu/probe-image.ts";
import { Vm } from "../qemu/vm.ts";
import { BOOT_TIMEOUT_MS, bootRoomsVm } from "./helpers.ts";

const WATCHDOG_SEC = 10;
/** Long enough for the console's buffers to fill and then for the watchdog to fire three times over, were bay0 waiting on the line. */
const DEAF_MS = 45_000;

/**
 * A room floods control characters into a serial console that nobody reads:
 * bay0 must drop log lines, not wait for the line, so the watchdog stays fed
 * and bay0 answers as soon as someone listens again.
 */
describe("a room flooding a console nobody reads", () => {
  let vm: Vm;

  beforeAll(async () => {
    const probe = probeImage();
    vm = await bootRoomsVm({
      name: "flood",
      serialSocket: true,
      watchdogAction: "poweroff",
      display: "none",
      images: [probe],
      mounted: ["probe"],
      append: ["anchor.autostart=", `anchor.watchdog_sec=${WATCHDOG_SEC}`],
    });
  }, BOOT_TIMEOUT_MS + 30_000);
  afterAll(async () => {
    await vm?.stop();
  });

  it("boots headless without a display: console.absent with the reason, and rooms run as ever", async () => {
    const absent = await vm.waitFor("console.absent", 0);
    expect(String(absent.reason)).toMatch(/no framebuffer/);
    expect(vm.records.some((r) => r.event === "console.ready")).toBe(false);
  });

  it(
    "keeps the watchdog fed and answers, dropping what the console cannot take, and writes only printable ASCII",
    async () => {
      expect((await vm.control("start flood", 60_000)).ok).toBe(true);
      await vm.waitFor("room.output", 60_000, (r) => r.room === "flood" && r.line === "flood-starting");
      const flooded = await vm.waitFor(
        "room.output",
        60_000,
        (r) => r.room === "flood" && String(r.line).includes("\u009b"),
      );
      expect(String(flooded.line)).toContain("\u001b[2J");

      vm.pauseSerial();
      await new Promise((r) => setTimeout(r, DEAF_MS));
      expect(vm.exitCode).toBeNull();
      expect(vm.qmp.events.filter((e) => e.event === "WATCHDOG")).toEqual([]);
      vm.resumeSerial();

      // The console was full: bay0 dropped records and said how many, once it could write again.
      const dropped = await vm.waitFor("log.dropped", 60_000, (r) => r.sink === "console");
      expect(dropped.records).toBeGreaterThan(0);
      const answer = await vm.control("kill flood", 60_000);
      expect(answer.ok).toBe(true);
      expect(vm.qmp.events.filter((e) => e.event === "WATCHDOG")).toEqual([]);

      // Every byte bay0 wrote to the console after boot was printable ASCII (or a line end).
      const fromBay0 = vm.lines.filter((l) => l.startsWith("{"));
      expect(fromBay0.length).toBeGreaterThan(10);
      expect(fromBay0.filter((l) => !/^[\x20-\x7e]*$/.test(l))).toEqual([]);
    },
    DEAF_MS + 240_000,
  );
});
