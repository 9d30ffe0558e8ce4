import { BASE_CMDLINE } from "./cmdline.ts";

/** Debian's OVMF with its snakeoil Secure Boot key enrolled (package ovmf). */
export const OVMF = {
  code: "/usr/share/OVMF/OVMF_CODE_4M.snakeoil.fd",
  vars: "/usr/share/OVMF/OVMF_VARS_4M.snakeoil.fd",
  /** No keys enrolled: Secure Boot off, the firmware in setup mode (what an evil maid leaves behind). */
  varsWithoutKeys: "/usr/share/OVMF/OVMF_VARS_4M.fd",
};

/** Direct kernel boot (fast), or UEFI firmware booting the first disk's ESP (Secure Boot enforced). */
export type BootMedia =
  { kind: "direct"; kernel: string; initrd: string; append?: string[] } | { kind: "uefi"; varsFile: string };

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
  /** Where a person sees the screen and types at it (default: nowhere, as tests run). */
  view?: View;
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

/**
 * How the person reaches the machine's screen and keyboard: a window on
 * their desktop (QEMU's GTK or SDL front end), a VNC server on this
 * machine's loopback address only (display N listens on TCP 5900 + N), or
 * nothing (headless: the serial console only).
 */
export type View = { kind: "none" } | { kind: "window"; ui: "gtk" | "sdl" } | { kind: "vnc"; display: number };

export const VNC_BASE_PORT = 5900;

function viewArgs(view: View): string[] {
  if (view.kind === "window") return ["-display", view.ui];
  // Loopback only: a VNC session has no password, so only this machine (or an SSH tunnel into it) may reach it.
  if (view.kind === "vnc") return ["-display", `vnc=127.0.0.1:${view.display}`];
  return ["-display", "none"];
}

/**
 * What `npm run boot` shows: `--display none` keeps it headless; otherwise
 * a window when a desktop session is there and QEMU has a windowed front
 * end (`qemu-system-x86_64 -display help` lists them), else VNC on the
 * first free display.
 */
export function chooseView(
  requested: "auto" | "none" | "vnc",
  env: { DISPLAY?: string; WAYLAND_DISPLAY?: string },
  frontEnds: string[],
  freeVncDisplay: () => number,
): View {
  if (requested === "none") return { kind: "none" };
  const desktop = (env.DISPLAY ?? "") !== "" || (env.WAYLAND_DISPLAY ?? "") !== "";
  if (requested === "auto" && desktop) {
    const ui = (["gtk", "sdl"] as const).find((name) => frontEnds.includes(name));
    if (ui !== undefined) return { kind: "window", ui };
  }
  return { kind: "vnc", display: freeVncDisplay() };
}

/** The front ends `qemu-system-x86_64 -display help` lists, one per line after its header. */
export function parseDisplayHelp(text: string): string[] {
  return text
    .split("\n")
    .slice(1)
    .map((line) => line.trim())
    .filter((line) => /^[a-z][a-z0-9-]*$/.test(line));
}

/**
 * `npm run boot`'s machine: the serial console multiplexed with QEMU's
 * monitor on the person's terminal (Ctrl-A X quits), the screen where
 * `view` says, the keys through a USB keyboard as on a laptop.
 */
export function personBootArgs(boot: {
  media: BootMedia;
  disks: DiskAttachment[];
  view: View;
  tpmSocket?: string;
}): string[] {
  return qemuArgs({ ...boot, usbKeyboard: true, serial: "mon:stdio" });
}

function mediaArgs(media: BootMedia): string[] {
  if (media.kind === "direct") {
    return [
      "-kernel",
      media.kernel,
      "-initrd",
      media.initrd,
      "-append",
      [...BASE_CMDLINE, ...(media.append ?? [])].join(" "),
    ];
  }
  return [
    "-global",
    "driver=cfi.pflash01,property=secure,value=on",
    "-drive",
    `if=pflash,format=raw,unit=0,file=${OVMF.code},readonly=on`,
    "-drive",
    `if=pflash,format=raw,unit=1,file=${media.varsFile}`,
  ];
}

export function qemuArgs(boot: QemuBoot): string[] {
  return [
    "-accel",
    "tcg",
    "-cpu",
    "max",
    "-machine",
    "q35,smm=on",
    "-m",
    String(boot.memoryMb ?? 1024),
    "-smp",
    "1",
    ...viewArgs(boot.view ?? { kind: "none" }),
    ...(boot.display === "none"
      ? ["-vga", "none"]
      : boot.display
        ? ["-vga", "none", "-device", `VGA,xres=${boot.display.xres},yres=${boot.display.yres}`]
        : ["-vga", "std"]),
    ...(boot.usbKeyboard ? ["-device", "qemu-xhci", "-device", "usb-kbd"] : []),
    // No network card: rooms get no network, and OVMF would try PXE first.
    "-nic",
    "none",
    ...(boot.serial.startsWith("mon:") ? [] : ["-monitor", "none"]),
    "-serial",
    boot.serial,
    ...mediaArgs(boot.media),
    ...(boot.disks ?? []).flatMap((disk, i) => [
      "-drive",
      `if=none,id=disk${i},format=raw,file=${disk.file}${disk.snapshot ? ",snapshot=on" : ""}${disk.readonly ? ",readonly=on" : ""}`,
      "-device",
      `virtio-blk-pci,drive=disk${i}${i === 0 && boot.media.kind === "uefi" ? ",bootindex=0" : ""}`,
    ]),
    ...(boot.testPortSocket
      ? [
          "-device",
          "virtio-serial-pci",
          "-chardev",
          `socket,id=testport,path=${boot.testPortSocket},server=on,wait=off`,
          "-device",
          "virtserialport,chardev=testport,name=anchor.test",
        ]
      : []),
    ...(boot.noWatchdog ? [] : ["-device", "i6300esb", "-action", `watchdog=${boot.watchdogAction ?? "reset"}`]),
    ...(boot.noReboot ? ["-no-reboot"] : []),
    ...(boot.qmpSocket ? ["-qmp", `unix:${boot.qmpSocket},server=on,wait=off`] : []),
    ...(boot.tpmSocket
      ? [
          "-chardev",
          `socket,id=chrtpm,path=${boot.tpmSocket}`,
          "-tpmdev",
          "emulator,id=tpm0,chardev=chrtpm",
          "-device",
          "tpm-tis,tpmdev=tpm0",
        ]
      : []),
  ];
}
