import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { probeImage } from "../qemu/probe-image.ts";
import { OUT, ROOT, Vm } from "../qemu/vm.ts";
import { BOOT_TIMEOUT_MS, bootRoomsVm } from "./helpers.ts";

const STOCK = join(OUT, "stock");

/**
 * Debian's stock kernel (`npm run build -- --stock-kernel`) has 32-bit
 * emulation, where socketcall(2) would open any socket family past the
 * x86-64 argument checks: the rooms' filter must kill a 32-bit call outright.
 */
describe("rooms on Debian's stock kernel", () => {
  let vm: Vm;

  beforeAll(async () => {
    const build = spawnSync(
      join(ROOT, "node_modules", ".bin", "bun"),
      [join(ROOT, "uki", "build.ts"), "--stock-kernel", "--out", STOCK],
      { encoding: "utf8" },
    );
    if (build.status !== 0) throw new Error(`stock-kernel build failed: ${build.stderr}`);
    const probe = probeImage();
    vm = await bootRoomsVm({
      name: "stock-kernel",
      kernel: join(STOCK, "vmlinuz"),
      initrd: join(STOCK, "initramfs.img"),
      images: [probe],
      mounted: ["probe"],
      plainBay0: true,
      append: ["anchor.autostart="],
    });
    // The build of a whole second image, then a boot: on a loaded 2-core host the build alone took near 4 minutes.
  }, 4 * BOOT_TIMEOUT_MS);
  afterAll(async () => {
    await vm?.stop();
  });

  it("kills a room's 32-bit socketcall with SIGSYS, where the kernel would have served it", async () => {
    const loaded = await vm.waitFor("modules.loaded", 0);
    expect(loaded.modules_disabled).toBe(true);
    expect((await vm.control("start escape-ia32", 60_000)).ok).toBe(true);
    const exited = await vm.waitFor("room.exited", 60_000, (r) => r.room === "escape-ia32");
    expect(exited.status).toBe(0);
    const lines = vm.records
      .filter((r) => r.event === "room.output" && r.room === "escape-ia32")
      .map((r) => String(r.line));
    expect(lines).toEqual(["attempt socketcall-int80-inet blocked (SIGSYS)", "attempts=1 mode=ia32"]);
  });
});
