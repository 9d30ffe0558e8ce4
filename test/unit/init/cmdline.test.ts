import { describe, expect, it } from "vitest";
import { DEFAULT_BOOT_OPTIONS, parseCmdline, splitCmdline } from "../../../init/cmdline.ts";

describe("splitCmdline", () => {
  it("splits on whitespace and keeps quoted spaces", () => {
    expect(splitCmdline('console=ttyS0  anchor.run="/a b/c" quiet\n')).toEqual([
      "console=ttyS0",
      "anchor.run=/a b/c",
      "quiet",
    ]);
  });
  it("returns nothing for an empty line", () => {
    expect(splitCmdline("   ")).toEqual([]);
  });

  it("joins quoted parts into their word, keeps an empty quoted word, and runs an open quote to the end", () => {
    expect(splitCmdline('a"b c"d\t""  x="y z')).toEqual(["ab cd", "", "x=y z"]);
  });
});

describe("parseCmdline", () => {
  it("uses the defaults when no anchor.* option is given", () => {
    expect(parseCmdline("console=ttyS0 root=/dev/vda")).toEqual({ options: DEFAULT_BOOT_OPTIONS, problems: [] });
  });

  it("reads valid options", () => {
    const { options, problems } = parseCmdline("anchor.watchdog_sec=10 anchor.run=/test/probe.sh");
    expect(problems).toEqual([]);
    expect(options).toEqual({ watchdogSec: 10, system: null, run: "/test/probe.sh", autostart: null });
  });

  it("reads the system image's root hash from preinit's pin", () => {
    const hash = "ab".repeat(32);
    const { options, problems } = parseCmdline(
      `anchor.system=01234567-89ab-4def-8123-456789abcdef,53,${hash},${"f".repeat(64)}`,
    );
    expect(problems).toEqual([]);
    expect(options.system).toBe(hash);
  });

  it.each([
    [
      "anchor.system=01234567-89ab-4def-8123-456789abcdef,53,xyz,abc",
      "anchor.system",
      /PARTUUID,DATA_BLOCKS,ROOT_HASH,SALT/,
    ],
    ["anchor.watchdog_sec=banana", "anchor.watchdog_sec", /whole number/],
    ["anchor.watchdog_sec=1.5", "anchor.watchdog_sec", /whole number/],
    ["anchor.watchdog_sec=1", "anchor.watchdog_sec", /at least 2/],
    ["anchor.watchdog_sec=100000", "anchor.watchdog_sec", /at most 600/],
    ["anchor.watchdog_sec", "anchor.watchdog_sec", /needs a value/],
    ["anchor.run=relative/path", "anchor.run", /absolute path/],
    ["anchor.run=/test/../etc/x", "anchor.run", /'\.\.'/],
    ["anchor.nonsense=1", "anchor.nonsense", /unknown option/],
    ["anchor.autostart=web,,work", "anchor.autostart", /room names/],
    ["anchor.autostart=Web", "anchor.autostart", /room names/],
    ["anchor.autostart=a--b", "anchor.autostart", /room names/],
    ["anchor.autostart=web,room", "anchor.autostart", /room names/],
  ])("rejects %s naming the option and keeps the default", (line, option, reason) => {
    const { options, problems } = parseCmdline(`quiet ${line}`);
    expect(options).toEqual(DEFAULT_BOOT_OPTIONS);
    expect(problems).toHaveLength(1);
    expect(problems[0]?.option).toBe(option);
    expect(problems[0]?.reason).toMatch(reason);
  });

  it("reads the autostart list, and an empty one", () => {
    expect(parseCmdline("anchor.autostart=web,work").options.autostart).toEqual(["web", "work"]);
    expect(parseCmdline("anchor.autostart=").options.autostart).toEqual([]);
  });

  it("keeps good options when another one is bad", () => {
    const { options, problems } = parseCmdline("anchor.watchdog_sec=x anchor.run=/bin/true");
    expect(options).toEqual({ watchdogSec: 30, system: null, run: "/bin/true", autostart: null });
    expect(problems.map((p) => p.option)).toEqual(["anchor.watchdog_sec"]);
  });
});
