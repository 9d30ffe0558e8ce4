/**
 * The kernel command line Anchor OS boots with: console on the screen and
 * the serial port (the last console= is /dev/console, where bay0 logs),
 * kernel chatter limited to warnings, reboot 5 s after a panic.
 */
export const BASE_CMDLINE = ["console=tty0", "console=ttyS0", "loglevel=4", "panic=5"];
