import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { builtImages, probeImage } from "../qemu/probe-image.ts";
import { typeFilter, typeLine, typeSecret } from "../qemu/keyboard.ts";
import { consoleFont, readPpm, readText, screenReader } from "../qemu/screen.ts";
import { OUT, Vm } from "../qemu/vm.ts";
import { BOOT_TIMEOUT_MS, bootRoomsVm, helperIds } from "./helpers.ts";

const font = consoleFont();
const WAIT_MS = 60_000;

/** One boot with a display and a USB keyboard: the dashboard, the launcher, keys, and what may never reach the screen. */
describe("the trusted console", () => {
  let vm: Vm;

  const screen = screenReader(() => vm, "console");
  const screenText = screen.text;
  const waitScreen = screen.wait;
  /** Into the launcher's filter, checked on the screen (test/qemu/keyboard.ts); no Enter. */
  const type = (text: string): Promise<void> => typeFilter(vm, screen, text);
  /** A command line into a room's terminal, checked by its echo, then Enter. */
  const typeCommand = (text: string): Promise<void> => typeLine(vm, screen, text);

  beforeAll(async () => {
    const probe = probeImage();
    vm = await bootRoomsVm({
      name: "console",
      usbKeyboard: true,
      memoryMb: 1536,
      images: [probe, ...builtImages()],
      mounted: ["minimal", "probe", "workshop"],
    });
  }, BOOT_TIMEOUT_MS + 30_000);
  afterAll(async () => {
    await vm?.stop();
  });

  it("takes the screen: console.ready at 1280x800 with the spleen font, 80x25 cells, in a helper of its own user with no capabilities", async () => {
    const ready = await vm.waitFor("console.ready", WAIT_MS);
    expect(ready).toMatchObject({
      width: 1280,
      height: 800,
      font: "spleen-16x32",
      cell_width: 16,
      cell_height: 32,
      cols: 80,
      rows: 25,
      vt: "graphics",
    });
    // The console helper runs as a user of its own: what the kernel says of the process, not what it says of itself.
    expect(await helperIds(vm, "console", WAIT_MS)).toMatch(
      /^console-ids Uid: 990 990 990 990 Gid: 990 990 990 990 Groups: ?CapEff: 0000000000000000 ?$/,
    );
  });

  it("grabs every keyboard, the USB one included, and one plugged in later", async () => {
    const grabbed = vm.records.filter((r) => r.event === "input.grabbed");
    expect(grabbed.filter((r) => r.ok).map((r) => r.name)).toEqual(
      expect.arrayContaining(["QEMU QEMU USB Keyboard", "AT Translated Set 2 keyboard"]),
    );
    const before = grabbed.length;
    await vm.qmp.command("device_add", { driver: "usb-kbd", id: "hotplugged" });
    const late = await vm.waitFor(
      "input.grabbed",
      WAIT_MS,
      (r) => vm.records.filter((x) => x.event === "input.grabbed").indexOf(r) >= before,
    );
    expect(late).toMatchObject({ name: "QEMU QEMU USB Keyboard", ok: true });
    await vm.qmp.command("device_del", { id: "hotplugged" });
  });

  it("shows the trust line and the dashboard listing web and work, read back from the pixels", async () => {
    await vm.waitFor("room.started", WAIT_MS, (r) => r.room === "work");
    const text = await waitScreen(/^. work +running/);
    expect(text[0]).toMatch(/^ ANCHOR  bay0 +vault: unavailable  \d\d:\d\d $/);
    expect(text.some((l) => /^. web +running +[\d.]+M\/512M/.test(l))).toBe(true);
    expect(text.some((l) => l.includes("Watchdog: armed, 30 s"))).toBe(true);
  });

  it("filters the launcher as the person types, starts the selected policy with Enter, kills it after y", async () => {
    await type("peek");
    await waitScreen(/^ Find: peek_/);
    await vm.sendKeys(["ret"]);
    await vm.waitFor("room.started", WAIT_MS, (r) => r.room === "peek");
    expect(vm.records.find((r) => r.event === "console.action" && r.room === "peek")).toMatchObject({
      action: "start",
    });
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
    const asked = await waitScreen(/Test: unlock/);
    // While bay0 asks, the trust line says so in its own words (a room's fake box would come with the room's name).
    expect(asked[0]).toMatch(/^ ANCHOR  bay0 is asking +vault: unavailable  \d\d:\d\d $/);
    // Letters around the digits: a bare "4711" turns up by chance in dmesg's microsecond timestamps.
    // Typed until the screen shows six dots, then Enter.
    await typeSecret(vm, screen, "PIN", "zq4711");
    expect(await vm.waitFor("test.prompt", WAIT_MS, (r) => r.kind === "secret")).toMatchObject({ length: 6 });
    expect(vm.records.find((r) => r.event === "console.prompt")).toMatchObject({ kind: "secret", outcome: "answered" });
    vm.send("sh if dmesg | grep -q zq4711; then echo kmsg-holds-it; else echo kmsg-clean; fi");
    const kmsg = await vm.waitFor("run.output", WAIT_MS, (r) => String(r.line).startsWith("kmsg-"));
    expect(kmsg.line).toBe("kmsg-clean");
    expect(vm.lines.filter((l) => l.includes("zq4711"))).toEqual([]);
  });

  it("denies a question nobody answers when its time runs out", async () => {
    expect((await vm.control("prompt-choice 4000", WAIT_MS)).ok).toBe(true);
    await waitScreen(/Test: send file\?/);
    const answer = await vm.waitFor("test.prompt", WAIT_MS, (r) => r.kind === "choice");
    expect(answer).toMatchObject({ index: 0, timed_out: true });
    expect(vm.records.filter((r) => r.event === "console.prompt").at(-1)).toMatchObject({
      kind: "choice",
      outcome: "timeout",
    });
  });

  it("starts shell from the launcher into its own terminal: the shell computes, Ctrl-Alt-Esc never reaches it, exit 3 ends the room", async () => {
    await vm.sendKeys(["esc"]);
    await type("shell");
    await vm.sendKeys(["ret"]);
    await vm.waitFor("room.started", WAIT_MS, (r) => r.room === "shell");
    await vm.waitFor("console.action", WAIT_MS, (r) => r.action === "focus" && r.room === "shell");
    await waitScreen(/^ ANCHOR  shell /);
    await waitScreen(/^\/ \$ *$/);
    await typeCommand("echo $((6*7))");
    await waitScreen(/^42 *$/);
    // cat -v shows any byte it is given: were the secure attention key delivered, "^[" would appear.
    await typeCommand("cat -v");
    await vm.sendKeys(["ctrl", "alt", "esc"]);
    await waitScreen(/^ ANCHOR  bay0 /);
    await waitScreen(/^. shell +running/);
    await type("shell");
    await vm.sendKeys(["ret"]);
    await waitScreen(/^ ANCHOR  shell /);
    await typeCommand("xyz");
    const echoed = await waitScreen(/^xyz *$/);
    expect(echoed.join("\n")).not.toContain("^[");
    await vm.sendKeys(["ctrl", "d"]);
    await typeCommand("exit 3");
    const exited = await vm.waitFor("room.exited", WAIT_MS, (r) => r.room === "shell");
    expect(exited.status).toBe(3);
    await waitScreen(/^ ANCHOR  bay0 /);
    await waitScreen(/^. shell +exited 3/);
  });

  it("keeps the trust line bay0's, pixel for pixel, while a room's terminal floods it with screen-control sequences and counts at the 32-bit limit; the dashboard still answers", async () => {
    await vm.sendKeys(["esc"]);
    await type("hostile");
    await vm.sendKeys(["ret"]);
    await vm.waitFor("room.started", WAIT_MS, (r) => r.room === "hostile");
    await waitScreen(/flood line/);
    const trustRow = async (i: number): Promise<{ text: string; pixels: Buffer }> => {
      const file = join(OUT, "test-logs", `console-hostile-${i}.ppm`);
      await vm.screendump(file, "ppm");
      const screen = readPpm(file);
      return {
        text: readText(screen, font)[0] ?? "",
        pixels: Buffer.from(screen.rgb.subarray(0, screen.width * font.height * 3)),
      };
    };
    const rows: { text: string; pixels: Buffer }[] = [];
    for (let i = 0; i < 4; i++) rows.push(await trustRow(i));
    for (const row of rows) expect(row.text).toMatch(/^ ANCHOR  hostile +vault: unavailable  \d\d:\d\d $/);
    // Same minute, same pixels: nothing the room sent drew on the top row.
    const sameMinute = rows.filter((r) => r.text === rows[0]?.text);
    expect(sameMinute.length).toBeGreaterThanOrEqual(2);
    for (const row of sameMinute) expect(row.pixels.equals(sameMinute[0]?.pixels ?? Buffer.alloc(0))).toBe(true);
    await vm.sendKeys(["ctrl", "alt", "esc"]);
    await waitScreen(/^. hostile +running/);
    await type("q");
    await waitScreen(/^ Find: q_/);
    expect(vm.qmp.events.filter((e) => e.event === "WATCHDOG")).toEqual([]);
    await vm.sendKeys(["esc"]);
    await waitScreen(/^ Find: _/);
    // Each key waits for the screen it leads to: under load a key sent too early lands before the filter does.
    await type("hostile");
    await waitScreen(/^ Find: hostile_/);
    await vm.sendKeys(["ctrl", "k"]);
    await waitScreen(/^ Kill hostile\? y\/n/);
    await vm.sendKeys(["y"]);
    await vm.waitFor("room.killed", WAIT_MS, (r) => r.room === "hostile");
  });

  it("launches the workshop from the keyboard into a root bash, resets it with Ctrl-R, and kills it", async () => {
    await vm.sendKeys(["esc"]);
    await type("workshop");
    await vm.sendKeys(["ret"]);
    await vm.waitFor("room.started", WAIT_MS, (r) => r.room === "workshop");
    await waitScreen(/^ ANCHOR  workshop /);
    await waitScreen(/^root@workshop:\/# *$/);
    await typeCommand("id -u");
    await waitScreen(/^0 *$/);
    await vm.sendKeys(["ctrl", "alt", "esc"]);
    await waitScreen(/^> workshop +running/);
    await vm.sendKeys(["ctrl", "r"]);
    await vm.waitFor("room.reset", WAIT_MS, (r) => r.room === "workshop");
    expect(
      vm.records.filter((r) => r.event === "console.action" && r.room === "workshop").map((r) => r.action),
    ).toEqual(["start", "focus", "reset"]);
    await vm.sendKeys(["ret"]);
    await waitScreen(/^ ANCHOR  workshop /);
    await waitScreen(/^root@workshop:\/# *$/);
    await vm.sendKeys(["ctrl", "alt", "esc"]);
    await vm.sendKeys(["ctrl", "k"]);
    await vm.sendKeys(["y"]);
    await vm.waitFor("room.killed", WAIT_MS, (r) => r.room === "workshop" && r.reason === "killed");
  });

  /** Resolves when the console helper has died for `reason` and a new one has taken the screen. */
  const nextConsole = (reason: string): Promise<unknown> => {
    const seen = (event: string): number => vm.records.filter((r) => r.event === event).length;
    const after =
      (event: string, count: number) =>
      (r: { event: string }): boolean =>
        vm.records.filter((x) => x.event === event).indexOf(r as never) >= count;
    const [restarts, readies] = [seen("console.restarted"), seen("console.ready")];
    return (async () => {
      await vm.waitFor(
        "console.restarted",
        WAIT_MS,
        (r) => r.reason === reason && after("console.restarted", restarts)(r),
      );
      await vm.waitFor("console.ready", WAIT_MS, after("console.ready", readies));
    })();
  };

  it("starts the console helper again when it dies with a prompt up: the prompt is denied, the dashboard returns, rooms live on", async () => {
    expect((await vm.control("start peek", WAIT_MS)).ok).toBe(true);
    const since = vm.records.length;
    await vm.sendKeys(["esc"]);
    await waitScreen(/^. peek +running/);
    expect((await vm.control("prompt-choice 120000", WAIT_MS)).ok).toBe(true);
    await waitScreen(/Test: send file\?/);
    const restarted = nextConsole("SIGKILL");
    expect((await vm.control("console-kill", WAIT_MS)).ok).toBe(true);
    expect(await vm.waitFor("test.prompt", WAIT_MS, (r) => r.kind === "choice" && r.timed_out === false)).toMatchObject(
      { index: 0 },
    );
    await restarted;
    const dashboard = await waitScreen(/^. peek +running/);
    expect(dashboard.join("\n")).not.toContain("Test: send file?");
    // The new console answers keys; the room went on as if nothing happened.
    await type("q");
    await waitScreen(/^ Find: q_/);
    await vm.sendKeys(["esc"]);
    expect(
      vm.records.slice(since).filter((r) => r.room === "peek" && /^room\.(exited|killed|failed)$/.test(r.event)),
    ).toEqual([]);
    expect((await vm.control("kill peek", WAIT_MS)).ok).toBe(true);
  });

  it("survives a room whose terminal output crashes the console helper, then one that wedges it: PID 1 and the watchdog carry on", async () => {
    await vm.sendKeys(["esc"]);
    await type("breaker");
    await vm.sendKeys(["ret"]);
    await waitScreen(/^breaker up *$/);
    const crashed = nextConsole("SIGABRT");
    await vm.sendKeys(["ret"]);
    await crashed;
    await waitScreen(/^. breaker +running/);
    // Back into the room (its terminal handed to the new console), and the next line wedges this one.
    await type("breaker");
    await vm.sendKeys(["ret"]);
    await waitScreen(/^ ANCHOR  breaker /);
    const stalled = nextConsole("SIGKILL");
    await vm.sendKeys(["ret"]);
    await vm.waitFor("console.stalled", WAIT_MS);
    await stalled;
    await waitScreen(/^. breaker +running/);
    expect(vm.qmp.events.filter((e) => e.event === "WATCHDOG")).toEqual([]);
    // bay0 itself never stopped: it still acts at once on a command.
    expect((await vm.control("kill breaker", WAIT_MS)).ok).toBe(true);
    await vm.waitFor("room.killed", WAIT_MS, (r) => r.room === "breaker");
  });
});
