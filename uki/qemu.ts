import { BASE_CMDLINE } from "./cmdline.ts";

/** Debian's OVMF with its snakeoil Secure Boot key enrolled (package ovmf). */
export const OVMF = {
  code: "/usr/share/OVMF/OVMF_CODE_4M.snakeoil.fd",
  vars: "/usr/share/OVMF/OVMF_VARS_4M.snakeoil.fd",
};

/** Direct kernel boot (fast), or UEFI firmware booting the first disk's ESP (Secure Boot enforced). */
export type BootMedia = { kind: "direct"; kernel: string; initrd: string; append?: string[] } | { kind: "uefi"; varsFile: string };

/** A disk image attached as a virtio disk: `snapshot` keeps the file as it was (writes go to a temporary overlay). */
export type DiskAttachment = { file: string; snapshot?: boolean; readonly?: boolean };

/**
 * How Anchor OS boots under QEMU on these machines: TCG only (KVM guests hang
 * here), `-cpu max` (Bun needs AVX2), q35 with SMM (Secure Boot needs it),
 * the i6300esb watchdog, a PS/2 keyboard and ACPI power button, the serial
 * port as console.
 */
export type QemuBoot = {
  media: BootMedia;
  memoryMb?: number;
  /** The display: QEMU's standard VGA (bochs DRM in the guest) by default, a size for it, or none (headless). */
  display?: "none" | { xres: number; yres: number };
  /** Add an xHCI controller with a USB keyboard (QEMU then sends its keys there). */
  usbKeyboard?: boolean;
  /** Leave out the i6300esb watchdog (a machine without one). */
  noWatchdog?: boolean;
  /** What the watchdog does when it fires; QEMU's default is a reset. */
  watchdogAction?: "reset" | "poweroff" | "pause";
  /** Exit instead of rebooting (tests tell a reset from a power-off this way). */
  noReboot?: boolean;
  qmpSocket?: string;
  /** Disks in order; a UEFI boot starts from the first one. */
  disks?: DiskAttachment[];
  /** A host socket wired to a virtio-serial port named "anchor.test" (tests drive the guest through it). */
  testPortSocket?: string;
  /** A swtpm control socket: adds a TPM 2.0 (TIS). */
  tpmSocket?: string;
  /** Serial console target, e.g. "stdio" or "mon:stdio". */
  serial: string;
};

function mediaArgs(media: BootMedia): string[] {
  if (media.kind === "direct") {
    return ["-kernel", media.kernel, "-initrd", media.initrd, "-append", [...BASE_CMDLINE, ...(media.append ?? [])].join(" ")];
  }
  return [
    "-global", "driver=cfi.pflash01,property=secure,value=on",
    "-drive", `if=pflash,format=raw,unit=0,file=${OVMF.code},readonly=on`,
    "-drive", `if=pflash,format=raw,unit=1,file=${media.varsFile}`,
  ];
}

export function qemuArgs(boot: QemuBoot): string[] {
  return [
    "-accel", "tcg",
    "-cpu", "max",
    "-machine", "q35,smm=on",
    "-m", String(boot.memoryMb ?? 1024),
    "-smp", "1",
    "-display", "none",
    ...(boot.display === "none" ? ["-vga", "none"] : boot.display ? ["-vga", "none", "-device", `VGA,xres=${boot.display.xres},yres=${boot.display.yres}`] : ["-vga", "std"]),
    ...(boot.usbKeyboard ? ["-device", "qemu-xhci", "-device", "usb-kbd"] : []),
    // No network card: rooms get no network, and OVMF would try PXE first.
    "-nic", "none",
    ...(boot.serial.startsWith("mon:") ? [] : ["-monitor", "none"]),
    "-serial", boot.serial,
    ...mediaArgs(boot.media),
    ...(boot.disks ?? []).flatMap((disk, i) => [
      "-drive", `if=none,id=disk${i},format=raw,file=${disk.file}${disk.snapshot ? ",snapshot=on" : ""}${disk.readonly ? ",readonly=on" : ""}`,
      "-device", `virtio-blk-pci,drive=disk${i}${i === 0 && boot.media.kind === "uefi" ? ",bootindex=0" : ""}`,
    ]),
    ...(boot.testPortSocket
      ? [
          "-device", "virtio-serial-pci",
          "-chardev", `socket,id=testport,path=${boot.testPortSocket},server=on,wait=off`,
          "-device", "virtserialport,chardev=testport,name=anchor.test",
        ]
      : []),
    ...(boot.noWatchdog ? [] : ["-device", "i6300esb", "-action", `watchdog=${boot.watchdogAction ?? "reset"}`]),
    ...(boot.noReboot ? ["-no-reboot"] : []),
    ...(boot.qmpSocket ? ["-qmp", `unix:${boot.qmpSocket},server=on,wait=off`] : []),
    ...(boot.tpmSocket
      ? ["-chardev", `socket,id=chrtpm,path=${boot.tpmSocket}`, "-tpmdev", "emulator,id=tpm0,chardev=chrtpm", "-device", "tpm-tis,tpmdev=tpm0"]
      : []),
  ];
}
