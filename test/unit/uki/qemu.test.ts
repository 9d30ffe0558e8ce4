import { describe, expect, it } from "vitest";
import { chooseView, parseDisplayHelp, personBootArgs } from "../../../uki/qemu.ts";

const HELP = "Available display backend types:\nnone\ngtk\nsdl\negl-headless\ncurses\ndbus\n";
const media = { kind: "uefi" as const, varsFile: "/tmp/vars.fd" };

describe("npm run boot's view of the machine", () => {
  it("reads QEMU's display front ends from -display help", () => {
    expect(parseDisplayHelp(HELP)).toEqual(["none", "gtk", "sdl", "egl-headless", "curses", "dbus"]);
    expect(parseDisplayHelp("Available display backend types:\nnone\ncurses\n")).toEqual(["none", "curses"]);
  });

  it("opens a window on a desktop when QEMU has one, else VNC; none only when asked", () => {
    const free = (): number => 3;
    expect(chooseView("auto", { DISPLAY: ":0" }, ["none", "gtk", "sdl"], free)).toEqual({ kind: "window", ui: "gtk" });
    expect(chooseView("auto", { WAYLAND_DISPLAY: "wayland-0" }, ["none", "sdl"], free)).toEqual({
      kind: "window",
      ui: "sdl",
    });
    expect(chooseView("auto", { DISPLAY: ":0" }, ["none", "curses"], free)).toEqual({ kind: "vnc", display: 3 });
    expect(chooseView("auto", {}, ["none", "gtk"], free)).toEqual({ kind: "vnc", display: 3 });
    expect(chooseView("auto", { DISPLAY: "" }, ["gtk"], free)).toEqual({ kind: "vnc", display: 3 });
    expect(chooseView("vnc", { DISPLAY: ":0" }, ["gtk"], free)).toEqual({ kind: "vnc", display: 3 });
    expect(chooseView("none", { DISPLAY: ":0" }, ["gtk"], free)).toEqual({ kind: "none" });
  });

  it("serves VNC on the loopback address only, keys through a USB keyboard, the log on the terminal", () => {
    const args = personBootArgs({ media, disks: [{ file: "disk.img" }], view: { kind: "vnc", display: 2 } }).join(" ");
    expect(args).toContain("-display vnc=127.0.0.1:2");
    expect(args).not.toContain("-display none");
    expect(args).toContain("-device qemu-xhci -device usb-kbd");
    expect(args).toContain("-serial mon:stdio");
    expect(personBootArgs({ media, disks: [], view: { kind: "window", ui: "gtk" } }).join(" ")).toContain(
      "-display gtk",
    );
    expect(personBootArgs({ media, disks: [], view: { kind: "none" } }).join(" ")).toContain("-display none");
  });
});
