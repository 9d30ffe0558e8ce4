/**
 * Boot: QEMU start -> bay0.ready, vs a busybox /init on the same kernel; the
 * UKI boot (OVMF + Secure Boot + swtpm) vs the direct -kernel boot; where a
 * boot's time goes; memory at ready; the artifacts' sizes; the kernel build.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { kernelCacheDir, kernelCacheKey, type KernelBuildRecord } from "../kernel/build.ts";
import { writeCpio } from "../uki/cpio.ts";
import { OUT, Vm, type Record } from "../test/qemu/vm.ts";
import { BOOT_TIMEOUT_MS, median, RUNS, type Row } from "./common.ts";

function busyboxInitramfs(dir: string): string {
  const init = [
    "#!/bin/busybox sh",
    "/bin/busybox mount -t proc proc /proc",
    "read up idle < /proc/uptime",
    "used=$(/bin/busybox awk '/^MemTotal:/{t=$2} /^MemAvailable:/{a=$2} END{print t-a}' /proc/meminfo)",
    'echo "{\\"event\\":\\"busybox.ready\\",\\"level\\":\\"info\\",\\"uptime\\":\\"$up\\",\\"mem_used_kb\\":$used}"',
    "/bin/busybox poweroff -f",
    "",
  ].join("\n");
  const cpio = join(dir, "busybox.cpio");
  writeFileSync(
    cpio,
    writeCpio([
      { kind: "file", path: "init", mode: 0o755, data: Buffer.from(init) },
      { kind: "file", path: "bin/busybox", mode: 0o755, data: readFileSync("/bin/busybox") },
      { kind: "dir", path: "proc", mode: 0o755 },
      { kind: "char", path: "dev/console", mode: 0o600, major: 5, minor: 1 },
    ]),
  );
  const image = join(dir, "busybox.img");
  const zstd = spawnSync("zstd", ["-19", "-q", "-f", cpio, "-o", image]);
  if (zstd.status !== 0) throw new Error(`zstd failed: ${zstd.stderr}`);
  return image;
}

type Boot = { wallMs: number; guestMs: number; memUsedKb: number; rssKb?: number; timing?: Record };

async function bootOnce(
  name: string,
  ready: string,
  media: { initrd?: string; uefiDisk?: string } = {},
): Promise<Boot> {
  const vm = await Vm.boot({ name, noReboot: true, ...media, tpm: media.uefiDisk !== undefined });
  try {
    const record = await vm.waitFor(ready, BOOT_TIMEOUT_MS);
    const guestMs = ready === "bay0.ready" ? Number(record.boot_ms) : Number.parseFloat(String(record.uptime)) * 1000;
    const timing = ready === "bay0.ready" ? await vm.waitFor("boot.timing", BOOT_TIMEOUT_MS) : undefined;
    return {
      wallMs: record.hostMs - vm.startedMs,
      guestMs,
      memUsedKb: Number(record.mem_used_kb),
      ...(typeof record.rss_kb === "number" ? { rssKb: record.rss_kb } : {}),
      ...(timing ? { timing } : {}),
    };
  } finally {
    await vm.stop();
  }
}

export async function bootRows(): Promise<Row[]> {
  const scratch = mkdtempSync(join(tmpdir(), "anchor-bench-"));
  const baseline = busyboxInitramfs(scratch);
  const bay0: Boot[] = [];
  const busybox: Boot[] = [];
  const uefi: Boot[] = [];
  for (let i = 0; i < RUNS; i++) {
    // Interleave so that drift in machine load hits every kind alike.
    busybox.push(await bootOnce(`bench-busybox-${i}`, "busybox.ready", { initrd: baseline }));
    bay0.push(await bootOnce(`bench-bay0-${i}`, "bay0.ready"));
    uefi.push(await bootOnce(`bench-uefi-${i}`, "bay0.ready", { uefiDisk: join(OUT, "anchor.img") }));
    process.stdout.write(`[bench] boot run ${i + 1}/${RUNS} done\n`);
  }
  const wallBay0 = median(bay0.map((b) => b.wallMs));
  const wallBusybox = median(busybox.map((b) => b.wallMs));
  const guestBay0 = median(bay0.map((b) => b.guestMs));
  const guestBusybox = median(busybox.map((b) => b.guestMs));
  const wallUefi = median(uefi.map((b) => b.wallMs));
  const rssMb = median(bay0.map((b) => b.rssKb ?? Number.NaN)) / 1024;
  const memBay0 = median(bay0.map((b) => b.memUsedKb)) / 1024;
  const memBusybox = median(busybox.map((b) => b.memUsedKb)) / 1024;
  const sizeMb = statSync(join(OUT, "initramfs.img")).size / 1048576;
  const ukiMb = statSync(join(OUT, "anchor.efi")).size / 1048576;
  const systemMb = statSync(join(OUT, "images", "system.squashfs")).size / 1048576;
  /** The median of one boot.timing field over `boots`, as text. */
  const phase = (boots: Boot[], field: string): string => {
    const values = boots.map((b) => b.timing?.[field]).filter((v): v is number => typeof v === "number");
    return values.length === 0 ? "-" : `${median(values).toFixed(0)}`;
  };
  const phases = (boots: Boot[]): string =>
    ["firmware_ms", "kernel_ms", "preinit_ms", "bun_start_ms", "modules_ms", "duties_ms"]
      .map((f) => `${f.replace("_ms", "")} ${phase(boots, f)}`)
      .join(", ");
  const kernelRecord = join(kernelCacheDir(kernelCacheKey()), "build.json");
  const kernelBuild = existsSync(kernelRecord)
    ? (JSON.parse(readFileSync(kernelRecord, "utf8")) as KernelBuildRecord)
    : null;
  return [
    [
      "boot to ready, wall (QEMU start)",
      `bay0 ${(wallBay0 / 1000).toFixed(2)} s vs busybox ${(wallBusybox / 1000).toFixed(2)} s`,
      `ratio ${(wallBay0 / wallBusybox).toFixed(2)} (target <= 1.5)`,
    ],
    [
      "boot to ready, guest uptime",
      `bay0 ${(guestBay0 / 1000).toFixed(2)} s vs busybox ${(guestBusybox / 1000).toFixed(2)} s`,
      `ratio ${(guestBay0 / guestBusybox).toFixed(2)}`,
    ],
    [
      "UKI boot (out/anchor.img: OVMF, SB, swtpm)",
      `${(wallUefi / 1000).toFixed(2)} s vs direct ${(wallBay0 / 1000).toFixed(2)} s`,
      `ratio ${(wallUefi / wallBay0).toFixed(2)} (target <= 2)`,
    ],
    ["  where a direct boot's time goes (ms)", phases(bay0), "boot.timing"],
    ["  where a UKI boot's time goes (ms)", phases(uefi), "boot.timing (firmware: to the stub)"],
    [
      "memory in use at ready",
      `bay0 ${memBay0.toFixed(1)} MiB vs busybox ${memBusybox.toFixed(1)} MiB`,
      `+${(memBay0 - memBusybox).toFixed(1)} MiB (target <= +40)`,
    ],
    ["bay0 RSS at ready", `${rssMb.toFixed(1)} MB`, "target <= 48 MB"],
    ["initramfs size", `${sizeMb.toFixed(2)} MiB (zstd cpio: preinit)`, ""],
    ["system image", `${systemMb.toFixed(1)} MiB (zstd squashfs + verity tree, on the disk)`, ""],
    ["UKI size", `${ukiMb.toFixed(1)} MiB`, "target <= 8 MiB"],
    [
      "kernel build, cold",
      kernelBuild
        ? `${kernelBuild.seconds} s with ${kernelBuild.jobs} jobs`
        : "not recorded (cached before timing was kept)",
      "once per configuration",
    ],
  ];
}
