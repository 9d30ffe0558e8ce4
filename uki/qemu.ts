import { BASE_CMDLINE } from "./cmdline.ts";

/**
 * How Anchor OS boots under QEMU on these machines: TCG only (KVM guests hang
 * here), `-cpu max` (Bun needs AVX2), the i6300esb watchdog, a PS/2 keyboard
 * and ACPI power button, the serial port as console.
 */
export type QemuBoot = {
  kernel: string;
  initrd: string;
  /** Extra kernel command-line words (anchor.* options and the like). */
  append?: string[];
  memoryMb?: number;
  /** What the watchdog does when it fires; QEMU's default is a reset. */
  watchdogAction?: "reset" | "poweroff" | "pause";
  /** Exit instead of rebooting (tests tell a reset from a power-off this way). */
  noReboot?: boolean;
  qmpSocket?: string;
  /** Serial console target, e.g. "stdio" or "mon:stdio". */
  serial: string;
};

export function qemuArgs(boot: QemuBoot): string[] {
  return [
    "-accel", "tcg",
    "-cpu", "max",
    "-machine", "q35",
    "-m", String(boot.memoryMb ?? 1024),
    "-smp", "1",
    "-display", "none",
    ...(boot.serial.startsWith("mon:") ? [] : ["-monitor", "none"]),
    "-serial", boot.serial,
    "-kernel", boot.kernel,
    "-initrd", boot.initrd,
    "-append", [...BASE_CMDLINE, ...(boot.append ?? [])].join(" "),
    "-device", "i6300esb",
    "-action", `watchdog=${boot.watchdogAction ?? "reset"}`,
    ...(boot.noReboot ? ["-no-reboot"] : []),
    ...(boot.qmpSocket ? ["-qmp", `unix:${boot.qmpSocket},server=on,wait=off`] : []),
  ];
}
