/**
 * The courier (`npm run bench -- courier`): a 256 MiB transfer between two
 * rooms (approved with QMP keys) vs `cp` between the same rooms' roots in the
 * same VM, the fixed cost of one (empty) transfer, and the carrier's staging
 * and hashing before the prompt.
 */
import { chooseChoice } from "../test/qemu/keyboard.ts";
import { screenReader } from "../test/qemu/screen.ts";
import { Vm, type Record } from "../test/qemu/vm.ts";
import { BOOT_TIMEOUT_MS, guestMs, median, roomsOverlay, RUNS, type Row } from "./common.ts";

type CourierFigures = { bigMs: number; emptyMs: number; cpMs: number; sumMs: number; hashMs: number };

async function courierBench(): Promise<CourierFigures> {
  const vm = await Vm.boot({
    name: "bench-courier",
    noReboot: true,
    memoryMb: 2048,
    testPort: true,
    usbKeyboard: true,
    overlay: roomsOverlay(),
    append: ["anchor.run=/test/forward.sh"],
  });
  try {
    await vm.waitFor("run.output", BOOT_TIMEOUT_MS, (r) => String(r.line).startsWith("forwarding"));
    for (const room of ["courier-bench-inbox", "courier-bench-send"]) await vm.control(`start ${room}`);
    await vm.waitFor("room.output", 300_000, (r) => r.room === "courier-bench-send" && r.line === "bench-files-ready");
    const roots = { from: "/run/rooms/courier-bench-send/rootfs", to: "/run/rooms/courier-bench-inbox/rootfs" };
    const screen = screenReader(() => vm, "bench-courier");
    const timed = async (tag: string, command: string): Promise<number> => {
      vm.send(`sh s=$EPOCHREALTIME; ${command} >/dev/null; e=$EPOCHREALTIME; echo "${tag} $s $e"`);
      const line = await vm.waitFor("run.output", 300_000, (r) => String(r.line).startsWith(`${tag} `));
      const [, start = 0, end = 0] = String(line.line).split(" ").map(Number);
      return (end - start) * 1000;
    };
    const cps: number[] = [];
    const sums: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      cps.push(
        await timed(`cp-${i}`, `cp ${roots.from}/tmp/big.bin ${roots.to}/tmp/cp.bin && rm ${roots.to}/tmp/cp.bin`),
      );
      sums.push(await timed(`sum-${i}`, `sha256sum ${roots.from}/tmp/big.bin`));
    }
    vm.send(`sh touch ${roots.from}/tmp/go`);
    const approve = async (file: string): Promise<{ requested: Record; delivered: Record }> => {
      const requested = await vm.waitFor("courier.requested", 300_000, (r) => r.file === file);
      await chooseChoice(vm, screen, "Deliver to courier-bench-inbox: /inbox");
      return { requested, delivered: await vm.waitFor("courier.delivered", 300_000, (r) => r.file === file) };
    };
    const empty = await approve("empty");
    const answered = await vm.waitFor("umbilical.request", 60_000, (r) => r.room === "courier-bench-send");
    const big = await approve("big.bin");
    // The carrier stages and hashes before bay0 asks: roughly from the empty transfer's answer to the big file's request.
    return {
      bigMs: Number(big.delivered.ms),
      emptyMs: Number(empty.delivered.ms),
      cpMs: median(cps),
      sumMs: median(sums),
      hashMs: guestMs(big.requested) - guestMs(answered),
    };
  } finally {
    await vm.stop();
  }
}

export async function courierRows(): Promise<Row[]> {
  const c = await courierBench();
  return [
    [
      "courier: 256 MiB delivery",
      `${c.bigMs.toFixed(0)} ms (approval -> delivered) vs cp ${c.cpMs.toFixed(0)} ms`,
      `throughput ratio ${(c.cpMs / c.bigMs).toFixed(2)} (target >= 0.9)`,
    ],
    [
      "  fixed cost of one transfer",
      `${c.emptyMs.toFixed(0)} ms`,
      "an empty file: crun, the courier's start, the link",
    ],
    [
      "  without the fixed cost",
      `${(c.bigMs - c.emptyMs).toFixed(0)} ms`,
      `ratio ${(c.cpMs / (c.bigMs - c.emptyMs)).toFixed(2)}`,
    ],
    [
      "  a verified copy: cp + sha256sum",
      `${(c.cpMs + c.sumMs).toFixed(0)} ms (sha256sum alone ${c.sumMs.toFixed(0)} ms)`,
      `ratio ${((c.cpMs + c.sumMs) / c.bigMs).toFixed(2)}`,
    ],
    ["courier: request -> prompt", `${c.hashMs.toFixed(0)} ms`, "the carrier staging and hashing 256 MiB"],
  ];
}
