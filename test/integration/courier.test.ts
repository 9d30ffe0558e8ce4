import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { builtImages, probeImage } from "../qemu/probe-image.ts";
import type { Record, Vm } from "../qemu/vm.ts";
import { chooseChoice, promptArmed } from "../qemu/keyboard.ts";
import { screenReader } from "../qemu/screen.ts";
import { BOOT_TIMEOUT_MS, bootRoomsVm } from "./helpers.ts";

const WAIT_MS = 60_000;
const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex");

/**
 * One boot with a screen and a keyboard: courier-send (test/rooms/courier-send.sh)
 * asks for hostile paths, then for files the test answers at the trusted
 * prompt with QMP keys; courier-inbox reports what lands in its /inbox.
 */
describe("the courier", () => {
  let vm: Vm;
  const screen = screenReader(() => vm, "courier");
  const outputOf = (room: string): string[] =>
    vm.records.filter((r) => r.event === "room.output" && r.room === room).map((r) => String(r.line));
  const waitOutput = (room: string, pattern: RegExp, timeoutMs = WAIT_MS): Promise<Record> =>
    vm.waitFor("room.output", timeoutMs, (r) => r.room === room && pattern.test(String(r.line)));
  const reply = async (label: string): Promise<string> =>
    String((await waitOutput("courier-send", new RegExp(`^${label} exit=`), 90_000)).line);
  /** Waits for the prompt about the next requested file; returns its screen. */
  const prompted = async (file: string, count: number): Promise<string[]> => {
    await vm.waitFor(
      "courier.requested",
      WAIT_MS,
      (r) => r.file === file && vm.records.filter((x) => x.event === "courier.requested").indexOf(r) === count,
    );
    await screen.wait(new RegExp(`file:   ${file.replace(".", "\\.")}`));
    // A screendump may catch a paint half done: the armed prompt's hint, its last line, is painted after the rest.
    return screen.wait(/Enter to choose/);
  };

  /**
   * Has the sending room change a file while its prompt is up (the file staged already), whatever the host's speed:
   * the room waits for `mark` in its /tmp, which the test makes through the room's root, then says `done`.
   */
  const changeInRoom = async (mark: string, done: RegExp): Promise<void> => {
    vm.send(`sh touch /proc/$(cat /run/rooms/courier-send/crun.pid)/root/tmp/${mark}`);
    await waitOutput("courier-send", done);
  };
  const toInbox = (): Promise<void> => chooseChoice(vm, screen, "Deliver to courier-inbox: /inbox");

  beforeAll(async () => {
    vm = await bootRoomsVm({
      name: "courier",
      usbKeyboard: true,
      memoryMb: 1536,
      images: [probeImage(), ...builtImages()],
      mounted: ["probe", "workshop"],
    });
    await vm.waitFor("room.started", WAIT_MS, (r) => r.room === "work");
    expect((await vm.control("start courier-inbox", WAIT_MS)).ok).toBe(true);
    await waitOutput("courier-inbox", /^inbox ready$/);
    // First and alone: transfers are taken one at a time, so it must not queue behind the sender's prompts.
    expect((await vm.control("start courier-device", WAIT_MS)).ok).toBe(true);
    await vm.waitFor("room.exited", WAIT_MS, (r) => r.room === "courier-device");
    expect((await vm.control("start courier-send", WAIT_MS)).ok).toBe(true);
  }, BOOT_TIMEOUT_MS + 90_000);
  afterAll(async () => {
    await vm?.stop();
  });

  it("refuses a symlink, a link on the way, a path out of the room or into /proc, a fifo, a directory, a device node, a file over the policy's size, without asking", async () => {
    await waitOutput("courier-send", /^prompts next$/);
    const lines = outputOf("courier-send");
    const line = (label: string): string => lines.find((l) => l.startsWith(`${label} exit=`)) ?? "";
    expect(line("symlink")).toMatch(
      /^symlink exit=1 .*"code":"refused".*shadow-link is a symlink; only a regular file can be sent/,
    );
    expect(line("dotdot")).toMatch(/^dotdot exit=1 .*no such file in the room/);
    expect(line("through-link")).toMatch(/^through-link exit=1 .*a link is in the path/);
    expect(line("proc")).toMatch(/^proc exit=1 .*no such file in the room/);
    expect(line("fifo")).toMatch(/^fifo exit=1 .*pipe is a fifo/);
    expect(line("folder")).toMatch(/^folder exit=1 .*folder is a directory/);
    expect(line("too-big")).toMatch(
      /^too-big exit=1 .*the file is 2000000 bytes; courier-send's policy sends at most 1048576/,
    );
    expect(line("missing")).toMatch(/^missing exit=1 .*no such file in the room/);
    const device = await vm.waitFor("room.output", 0, (r) => r.room === "courier-device");
    expect(device.line).toMatch(/\/dev\/null is a device; only a regular file can be sent/);
    const denied = vm.records.filter((r) => r.event === "courier.denied");
    expect(denied.length).toBeGreaterThanOrEqual(9);
    expect(denied.every((r) => r.by === "policy")).toBe(true);
    expect(vm.records.some((r) => r.event === "console.prompt")).toBe(false);
  });

  it("shows the sender, name, size and full SHA-256; the destination picked with the keys gets the file, owned by its user", async () => {
    const text = await prompted("report.txt", 0);
    const hash = sha256("quarterly figures: 42\n");
    const shown = text.join("\n");
    for (const expected of [
      "from:   courier-send",
      "file:   report.txt",
      "size:   22 bytes",
      `sha256: ${hash.slice(0, 32)}`,
      `        ${hash.slice(32)}`,
      "> Deny",
      "  Deliver to courier-inbox: /inbox",
      "  Deliver to work: /inbox",
    ]) {
      expect(shown).toContain(expected);
    }
    await toInbox();
    expect(await reply("report")).toMatch(
      new RegExp(
        `^report exit=0 \\{"ok":true,"delivered":\\{"to":"courier-inbox","path":"/inbox/report.txt","size":22,"sha256":"${hash}"\\}\\}$`,
      ),
    );
    await waitOutput("courier-inbox", new RegExp(`^inbox: report.txt ${hash} 22 user$`));
    expect(vm.records.find((r) => r.event === "courier.approved")).toMatchObject({
      room: "courier-send",
      to: "courier-inbox",
      file: "report.txt",
      size: 22,
      sha256: hash,
      by: "human",
    });
    expect(vm.records.find((r) => r.event === "courier.delivered")).toMatchObject({
      room: "courier-send",
      to: "courier-inbox",
      file: "report.txt",
      sha256: hash,
    });
  });

  it("delivers an empty file", async () => {
    await prompted("empty.txt", 1);
    await toInbox();
    expect(await reply("empty")).toMatch(/^empty exit=0 .*"path":"\/inbox\/empty.txt","size":0/);
    await waitOutput("courier-inbox", new RegExp(`^inbox: empty.txt ${sha256("")} 0 user$`));
  });

  it("delivers the bytes the person approved, staged out of the sender's reach, though the sender changed the file after", async () => {
    await prompted("changing.txt", 2);
    await changeInRoom("go-change", /^changed now$/);
    await toInbox();
    expect(await reply("changing")).toMatch(/^changing exit=0 .*"path":"\/inbox\/changing.txt","size":12/);
    await waitOutput("courier-inbox", new RegExp(`^inbox: changing.txt ${sha256("version one\n")} 12 user$`));
  });

  it("delivers exactly the approved bytes of a file that grew meanwhile", async () => {
    await prompted("growing.log", 3);
    await changeInRoom("go-grow", /^grown now$/);
    await toInbox();
    expect(await reply("growing")).toMatch(/^growing exit=0 /);
    await waitOutput("courier-inbox", new RegExp(`^inbox: growing.log ${sha256("line 1\n")} 7 user$`));
  });

  it("never overwrites: the same name again lands beside it with a suffix", async () => {
    await prompted("report.txt", 4);
    await toInbox();
    expect(await reply("again")).toMatch(/^again exit=0 .*"path":"\/inbox\/report-2.txt"/);
    await waitOutput("courier-inbox", /^inbox: report-2.txt /);
  });

  it("denies on Esc and at the 30 s timeout; anchorctl says why and fails", async () => {
    await prompted("report.txt", 5);
    await promptArmed(screen);
    await vm.sendKeys(["down"]);
    await vm.sendKeys(["esc"]);
    expect(await reply("esc")).toMatch(/^esc exit=1 .*"code":"refused","message":"denied at the console"/);
    // At once again: refused without a prompt, for a while that doubles with each denial.
    expect(await reply("cooling")).toMatch(
      /^cooling exit=1 .*the person denied courier-send's last transfer; ask again in [1-5] s/,
    );
    await prompted("report.txt", 6);
    expect(await reply("timeout")).toMatch(/^timeout exit=1 .*nobody answered within 30 s/);
    const denied = vm.records.filter(
      (r) => r.event === "courier.denied" && r.file === "report.txt" && r.by !== "policy",
    );
    expect(denied.map((r) => r.by)).toEqual(["human", "timeout"]);
  });

  it("gives the person the dashboard on Ctrl-Alt-Esc over a room's request, which is then denied", async () => {
    await prompted("report.txt", 7);
    await promptArmed(screen);
    await vm.sendKeys(["ctrl", "alt", "esc"]);
    expect(await reply("attention")).toMatch(/^attention exit=1 .*"message":"denied at the console"/);
    const home = await screen.wait(/^ Find: _/);
    expect(home.join("\n")).not.toContain("Courier:");
    expect(vm.records.filter((r) => r.event === "console.prompt").at(-1)).toMatchObject({
      title: "Courier: courier-send sends a file",
      outcome: "cancelled",
    });
  });

  it("kills a courier that cannot finish (its receiver frozen) at its deadline; the next transfer goes through", async () => {
    await prompted("report.txt", 8);
    expect((await vm.control("freeze courier-inbox", WAIT_MS)).ok).toBe(true);
    await toInbox();
    expect(await reply("frozen")).toMatch(
      /^frozen exit=1 .*not delivered: the courier did not finish within 30 s and was killed/,
    );
    expect(vm.records.filter((r) => r.event === "courier.failed").at(-1)).toMatchObject({
      file: "report.txt",
      to: "courier-inbox",
      reason: "the courier did not finish within 30 s and was killed",
    });
    expect((await vm.control("thaw courier-inbox", WAIT_MS)).ok).toBe(true);
    await prompted("report.txt", 9);
    await toInbox();
    expect(await reply("after")).toMatch(/^after exit=0 .*"path":"\/inbox\/report-3.txt"/);
    await waitOutput("courier-send", /^courier-send-done$/);
  });

  it("stops the sending room when the person picks Deny and stop", async () => {
    await prompted("report.txt", 10);
    await chooseChoice(vm, screen, "Deny and stop courier-send");
    await vm.waitFor("room.killed", WAIT_MS, (r) => r.room === "courier-send");
    expect(vm.records.filter((r) => r.event === "courier.denied").at(-1)).toMatchObject({
      room: "courier-send",
      by: "human",
      reason: "denied at the console, and the room is stopped",
    });
  });

  it("never shows the receiving room a partial file, and every step is in the audit log, which verifies", async () => {
    const landed = outputOf("courier-inbox")
      .filter((l) => l.startsWith("inbox: "))
      .map((l) => l.split(" ")[1]);
    expect(landed).toEqual(["report.txt", "empty.txt", "changing.txt", "growing.log", "report-2.txt", "report-3.txt"]);
    expect((await vm.control("audit", WAIT_MS)).ok).toBe(true);
    const audit = await vm.waitFor("test.audit", WAIT_MS);
    expect(audit.ok).toBe(true);
    expect(audit.events).toEqual(
      expect.arrayContaining([
        "courier.requested",
        "courier.approved",
        "courier.delivered",
        "courier.denied",
        "courier.failed",
        "console.prompt",
      ]),
    );
  });
});
