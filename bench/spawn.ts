/**
 * Rooms (one VM, test build of bay0): spawn latency (policy -> `true` has
 * exited) vs bare crun on the same bundle, bwrap and a plain fork+exec; reset
 * time; bay0's RSS with three rooms running.
 */
import { Vm } from "../test/qemu/vm.ts";
import { BOOT_TIMEOUT_MS, guestMs, median, roomsOverlay, RUNS, type Row } from "./common.ts";

type RoomFigures = { spawn: number; crun: number; bwrap: number; plain: number; reset: number; rssMb: number };

async function roomsBench(): Promise<RoomFigures> {
  const vm = await Vm.boot({
    name: "bench-rooms",
    noReboot: true,
    memoryMb: 1536,
    testPort: true,
    overlay: roomsOverlay(),
    append: ["anchor.run=/test/forward.sh"],
  });
  try {
    await vm.waitFor("run.output", BOOT_TIMEOUT_MS, (r) => String(r.line).startsWith("forwarding"));
    await vm.waitFor("room.started", BOOT_TIMEOUT_MS, (r) => r.room === "work");
    const spawns: number[] = [];
    for (let i = 0; i < RUNS + 2; i++) {
      const before = vm.records.length;
      await vm.control("start true");
      const exited = await vm.waitFor(
        "room.exited",
        60_000,
        (r) => r.room === "true" && vm.records.indexOf(r) >= before,
      );
      const starting = vm.records.find((r, j) => j >= before && r.event === "room.starting" && r.room === "true");
      if (starting) spawns.push(guestMs(exited) - guestMs(starting));
      await vm.waitFor("room.removed", 60_000, (r) => r.room === "true" && vm.records.indexOf(r) >= before);
    }
    await vm.control("bundle true");
    const bundle = await vm.waitFor("test.bundle", 30_000);
    vm.send(`sh /bench/compare.sh ${String(bundle.bundle)} ${RUNS}`);
    await vm.waitFor("run.output", 300_000, (r) => r.line === "bench-done");
    const figures = (name: string): number[] =>
      vm
        .runOutput()
        .filter((l) => l.startsWith(`bench ${name}-ms=`))
        .map((l) => Number.parseFloat(l.split("=")[1] ?? ""));
    const resets: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const before = vm.records.length;
      await vm.control("reset web");
      const reset = await vm.waitFor("room.reset", 60_000, (r) => r.room === "web" && vm.records.indexOf(r) >= before);
      resets.push(Number(reset.reset_ms));
    }
    await vm.control("start idle");
    vm.send("sh grep VmRSS /proc/1/status");
    const rss = await vm.waitFor("run.output", 30_000, (r) => String(r.line).startsWith("VmRSS:"));
    return {
      spawn: median(spawns.slice(2)),
      crun: median(figures("crun")),
      bwrap: median(figures("bwrap")),
      plain: median(figures("plain")),
      reset: median(resets),
      rssMb: Number.parseInt(String(rss.line).replace(/\D+/g, ""), 10) / 1024,
    };
  } finally {
    await vm.stop();
  }
}

export async function spawnRows(): Promise<Row[]> {
  const rooms = await roomsBench();
  return [
    [
      "room spawn (policy -> true exited)",
      `${rooms.spawn.toFixed(0)} ms vs bare crun ${rooms.crun.toFixed(0)} ms`,
      `ratio ${(rooms.spawn / rooms.crun).toFixed(2)} (target <= 1.2)`,
    ],
    [
      "  baselines",
      `bwrap ${rooms.bwrap.toFixed(0)} ms, plain fork+exec ${rooms.plain.toFixed(0)} ms`,
      `crun/bwrap ${(rooms.crun / rooms.bwrap).toFixed(2)}`,
    ],
    [
      "room reset",
      `${rooms.reset.toFixed(0)} ms`,
      `ratio to spawn ${(rooms.reset / rooms.spawn).toFixed(2)} (target <= 2)`,
    ],
    ["bay0 RSS, three rooms running", `${rooms.rssMb.toFixed(1)} MB`, "target <= 48 MB"],
  ];
}
