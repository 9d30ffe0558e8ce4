import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testOverlay } from "../qemu/overlay.ts";
import { manifestWith, probeImage } from "../qemu/probe-image.ts";
import { consoleFont, readPpm, readText } from "../qemu/screen.ts";
import { OUT, Vm } from "../qemu/vm.ts";
import { BOOT_TIMEOUT_MS } from "./helpers.ts";

const font = consoleFont();
const WAIT_MS = 60_000;

/** One boot with a display and a USB keyboard: the dashboard, the launcher, keys, and what may never reach the screen. */
describe("the trusted console", () => {
  let vm: Vm;
  let shots = 0;

  /** The screen as text, read back from a QMP screendump with the console's font. */
  const screenText = async (): Promise<string[]> => {
    const file = join(OUT, "test-logs", `console-${shots++}.ppm`);
    await vm.screendump(file, "ppm");
    return readText(readPpm(file), font);
  };
  /** Polls the screen until a line matches (the dashboard redraws twice a second). */
  const waitScreen = async (pattern: RegExp, timeoutMs = 15_000): Promise<string[]> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const text = await screenText();
      if (text.some((l) => pattern.test(l))) return text;
      if (Date.now() > deadline) throw new Error(`no screen line matching ${pattern}; screen:\n${text.join("\n")}`);
      await new Promise((r) => setTimeout(r, 300));
    }
  };
  const type = async (text: string): Promise<void> => {
    for (const ch of text) await vm.sendKeys([ch === "-" ? "minus" : ch]);
  };

  beforeAll(async () => {
    const probe = probeImage();
    vm = await Vm.boot({
      name: "console",
      noReboot: true,
      testPort: true,
      usbKeyboard: true,
      overlay: testOverlay({ roomPolicies: true, imageManifest: manifestWith([probe]) }),
      images: [probe, { name: "minimal", file: join(OUT, "images", "minimal.squashfs") }],
      append: ["anchor.run=/test/forward.sh"],
    });
    await vm.waitFor("run.output", BOOT_TIMEOUT_MS, (r) => String(r.line).startsWith("forwarding"));
  }, BOOT_TIMEOUT_MS + 30_000);
  afterAll(async () => {
    await vm?.stop();
  });

  it("takes the screen: console.ready at 1280x800 with the spleen font, 80x25 cells", async () => {
    const ready = await vm.waitFor("console.ready", 0);
    expect(ready).toMatchObject({ width: 1280, height: 800, font: "spleen-16x32", cell_width: 16, cell_height: 32, cols: 80, rows: 25 });
  });

  it("grabs every keyboard, the USB one included", async () => {
    const grabbed = vm.records.filter((r) => r.event === "input.grabbed");
    expect(grabbed.filter((r) => r.ok).map((r) => r.name)).toEqual(expect.arrayContaining(["QEMU QEMU USB Keyboard", "AT Translated Set 2 keyboard"]));
  });

  it("shows the trust line and the dashboard listing web and work, read back from the pixels", async () => {
    await vm.waitFor("room.started", WAIT_MS, (r) => r.room === "work");
    const text = await waitScreen(/^. work +running/);
    expect(text[0]).toMatch(/^ ANCHOR  bay0 +vault: not set up  \d\d:\d\d $/);
    expect(text.some((l) => /^. web +running +[\d.]+M\/512M/.test(l))).toBe(true);
    expect(text.some((l) => l.includes("Watchdog: armed, 30 s"))).toBe(true);
  });

  it("filters the launcher as the person types, starts the selected policy with Enter, kills it after y", async () => {
    await type("peek");
    await waitScreen(/^ Find: peek_/);
    await vm.sendKeys(["ret"]);
    await vm.waitFor("room.started", WAIT_MS, (r) => r.room === "peek");
    expect(vm.records.find((r) => r.event === "console.action" && r.room === "peek")).toMatchObject({ action: "start" });
    await waitScreen(/^> peek +running/);
    await vm.sendKeys(["ctrl", "k"]);
    await waitScreen(/Kill peek\? y\/n/);
    await vm.sendKeys(["y"]);
    await vm.waitFor("room.killed", WAIT_MS, (r) => r.room === "peek");
    await waitScreen(/^> peek +killed/);
    // No keystroke's content is ever logged: "peek" reached the log only as the room's name.
    expect(vm.lines.filter((l) => /"(key|char)"/.test(l))).toEqual([]);
  });

  it("shows a refused start's reason on the screen", async () => {
    await vm.sendKeys(["esc"]);
    await type("tampered");
    await vm.sendKeys(["ret"]);
    await waitScreen(/tampered: image 'corrupt' is not available/);
  });

  it("never lets kernel text reach the screen: a probe's line in /dev/kmsg shows on the serial port only", async () => {
    vm.send("sh echo '<2>anchor-kmsg-probe' > /dev/kmsg");
    await vm.waitForLine(/anchor-kmsg-probe/, WAIT_MS);
    const text = await screenText();
    expect(text.join("\n")).not.toContain("anchor-kmsg-probe");
    expect(text[0]).toMatch(/^ ANCHOR  bay0/);
  });

  it("asks for a secret with a masked prompt: dots on the screen, no trace in the serial log or the kernel log", async () => {
    expect((await vm.control("prompt-secret", WAIT_MS)).ok).toBe(true);
    await waitScreen(/Test: unlock/);
    await type("4711");
    await waitScreen(/PIN: \u2022\u2022\u2022\u2022_/);
    await vm.sendKeys(["ret"]);
    expect(await vm.waitFor("test.prompt", WAIT_MS, (r) => r.kind === "secret")).toMatchObject({ length: 4 });
    expect(vm.records.find((r) => r.event === "console.prompt")).toMatchObject({ kind: "secret", outcome: "answered" });
    vm.send("sh if dmesg | grep -q 4711; then echo kmsg-holds-it; else echo kmsg-clean; fi");
    const kmsg = await vm.waitFor("run.output", WAIT_MS, (r) => String(r.line).startsWith("kmsg-"));
    expect(kmsg.line).toBe("kmsg-clean");
    expect(vm.lines.filter((l) => l.includes("4711"))).toEqual([]);
  });

  it("denies a question nobody answers when its time runs out", async () => {
    expect((await vm.control("prompt-choice 4000", WAIT_MS)).ok).toBe(true);
    await waitScreen(/Test: send file\?/);
    const answer = await vm.waitFor("test.prompt", WAIT_MS, (r) => r.kind === "choice");
    expect(answer).toMatchObject({ index: 0, timed_out: true });
    expect(vm.records.filter((r) => r.event === "console.prompt").at(-1)).toMatchObject({ kind: "choice", outcome: "timeout" });
  });
});
