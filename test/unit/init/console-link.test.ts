import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { FromConsole, PromptAnswer, PromptRequest } from "../../../console/protocol.ts";
import type { ToConsole } from "../../../console/to-console.ts";
import { startConsoleLink } from "../../../init/console-link.ts";
import { FakeLibc } from "../../../sys/libc-fake.ts";
import { createLog, type LogRecord } from "../../../sys/log.ts";
import { memorySink } from "../memory-sink.ts";
import { fakeResidents } from "./fake-residents.ts";

function setup() {
  const records: LogRecord[] = [];
  const libc = new FakeLibc();
  const { spawner, helpers: children } = fakeResidents<ToConsole, FromConsole>(100);
  const clock = { ms: 0 };
  const acted: string[] = [];
  const inputs = ["/dev/input/event0", "/dev/input/event9"];
  const link = startConsoleLink({
    libc,
    log: createLog([memorySink(records)]),
    spawner,
    now: () => clock.ms,
    state: () => ({ rooms: [], policies: ["shell"], vault: "open", watchdog: "armed, 30 s" }),
    terminals: () => [{ room: "shell", fd: 42 }],
    act: async (action, room) => {
      acted.push(`${action} ${String(room)}`);
      return null;
    },
    power: () => acted.push("power"),
    ctrlAltDel: () => acted.push("ctrl-alt-del"),
    devices: {
      screen: () => ({ ok: true, fd: 30, device: "/dev/fb0", vt: "graphics" }),
      inputs: () => [...inputs],
      openInput: (device) => {
        if (device.endsWith("event9")) throw new Error("EACCES");
        return 40 + inputs.indexOf(device);
      },
    },
  });
  return { link, libc, children, records, clock, acted, inputs };
}

const choice: PromptRequest = {
  kind: "choice",
  title: "Send?",
  lines: [],
  choices: ["Deny", "Allow"],
  timeoutMs: 60_000,
};
const confirm: PromptRequest = {
  kind: "confirm",
  title: "Your recovery key",
  lines: ["KEY"],
  choice: "I wrote it down",
};
const flush = () => new Promise((r) => setImmediate(r));

describe("bay0's side of the console helper", () => {
  beforeEach(() => void vi.useFakeTimers({ toFake: ["setTimeout"] }));
  afterEach(() => void vi.useRealTimers());

  it("starts `bay0 console` as its own user with the channel as fd 3, hands it the screen and keyboards bay0 opened, then terminals and questions once it said hello", async () => {
    const { link, libc, children, records } = setup();
    expect(children).toHaveLength(1);
    expect(children[0]?.argv.at(-1)).toBe("console");
    expect(children[0]?.fds).toEqual([91]);
    expect(children[0]?.user).toEqual({ uid: 990, gid: 990 });
    const asked = link.ask()?.(choice);
    // The devices at once, each fd just before its line; the one bay0 could not open is reported, not sent.
    expect(children[0]?.written).toEqual([
      { type: "input", device: "/dev/input/event0" },
      { type: "screen", device: "/dev/fb0", vt: "graphics" },
    ]);
    expect(records.find((r) => r.event === "input.error")).toMatchObject({ device: "/dev/input/event9" });
    children[0]?.say({ type: "hello", screen: true });
    expect(libc.calls.filter((c) => c.fn === "sendFd").map((c) => c.args)).toEqual([
      [90, 40],
      [90, 30],
      [90, 42],
    ]);
    // bay0 keeps no copy of what it handed over (the helper's death releases the grabs); a room's terminal it keeps.
    expect(libc.calls.filter((c) => c.fn === "close").map((c) => c.args[0])).toEqual([91, 40, 30]);
    expect(children[0]?.written.slice(2).map((m) => m.type)).toEqual(["state", "terminal", "ask"]);
    const ask = children[0]?.written.find((m) => m.type === "ask");
    children[0]?.say({
      type: "answer",
      id: ask?.type === "ask" ? ask.id : -1,
      answer: { kind: "choice", index: 1, timedOut: false },
    });
    expect(await asked).toEqual({ kind: "choice", index: 1, timedOut: false });
  });

  it("hands over a keyboard plugged in later, once, and every device again to a console that starts again", async () => {
    const { link, children, inputs } = setup();
    children[0]?.say({ type: "hello", screen: true });
    inputs.push("/dev/input/event1");
    link.rescan();
    link.rescan();
    expect(
      children[0]?.written.filter((m) => m.type === "input").map((m) => (m.type === "input" ? m.device : "")),
    ).toEqual(["/dev/input/event0", "/dev/input/event1"]);
    children[0]?.end({ status: null, signal: "SIGABRT" });
    await flush();
    vi.runAllTimers();
    expect(
      children[1]?.written.filter((m) => m.type === "input").map((m) => (m.type === "input" ? m.device : "")),
    ).toEqual(["/dev/input/event0", "/dev/input/event1"]);
  });

  it("denies what a console that died was asking, shows a confirmation again on the next one, and logs console.restarted", async () => {
    const { link, children, records } = setup();
    children[0]?.say({ type: "hello", screen: true });
    const answers: PromptAnswer[] = [];
    void link
      .ask()?.(choice)
      .then((a) => answers.push(a));
    void link
      .ask()?.({ kind: "secret", title: "Unlock", label: "PIN", minLength: 4, maxLength: 32 })
      .then((a) => answers.push(a));
    void link
      .ask()?.(confirm)
      .then((a) => answers.push(a));
    children[0]?.end({ status: null, signal: "SIGKILL" });
    await flush();
    expect(answers).toEqual([
      { kind: "choice", index: 0, timedOut: false },
      { kind: "secret", value: null },
    ]);
    expect(records.find((r) => r.event === "console.restarted")).toMatchObject({ reason: "SIGKILL" });
    vi.runAllTimers();
    expect(children).toHaveLength(2);
    children[1]?.say({ type: "hello", screen: true });
    const again = children[1]?.written.find((m) => m.type === "ask");
    expect(again?.type === "ask" ? again.request : null).toEqual(confirm);
    children[1]?.say({ type: "answer", id: again?.type === "ask" ? again.id : -1, answer: { kind: "confirm" } });
    await flush();
    expect(answers.at(-1)).toEqual({ kind: "confirm" });
  });

  it("kills a console that stopped saying it is alive, giving one that starts a minute for its first word", () => {
    const { link, libc, children, clock, records } = setup();
    clock.ms = 50_000;
    link.check();
    expect(libc.calls.filter((c) => c.fn === "kill")).toEqual([]);
    children[0]?.say({ type: "hello", screen: true });
    clock.ms = 59_000;
    link.check();
    expect(libc.calls.filter((c) => c.fn === "kill")).toEqual([]);
    children[0]?.say({ type: "alive" });
    clock.ms = 70_000;
    link.check();
    expect(libc.calls.filter((c) => c.fn === "kill")).toEqual([{ fn: "kill", args: [100, 9] }]);
    expect(records.find((r) => r.event === "console.stalled")).toMatchObject({ pid: 100 });
  });

  it("treats an answer of the wrong kind as a denial, and has no prompts on a console without a screen", async () => {
    const { link, children } = setup();
    const asked = link.ask()?.(choice);
    children[0]?.say({ type: "hello", screen: true });
    const ask = children[0]?.written.find((m) => m.type === "ask");
    children[0]?.say({ type: "answer", id: ask?.type === "ask" ? ask.id : -1, answer: { kind: "secret", value: "1" } });
    expect(await asked).toEqual({ kind: "choice", index: 0, timedOut: false });
    children[0]?.end({ status: 0, signal: null });
    await flush();
    vi.runAllTimers();
    children[1]?.say({ type: "hello", screen: false });
    expect(link.ask()).toBeNull();
  });

  it("starts no new console once the machine shuts down", async () => {
    const { link, children, records } = setup();
    link.stopRestarting();
    children[0]?.end({ status: null, signal: "SIGTERM" });
    await flush();
    vi.runAllTimers();
    expect(children).toHaveLength(1);
    expect(records.some((r) => r.event === "console.restarted")).toBe(false);
  });

  it("does what the person chose and says so, and passes on the power button", async () => {
    const { children, acted } = setup();
    children[0]?.say({ type: "hello", screen: true });
    children[0]?.say({ type: "act", id: 7, action: "kill", room: "shell" });
    children[0]?.say({ type: "power", device: "/dev/input/event0" });
    await flush();
    expect(acted).toEqual(["kill shell", "power"]);
    expect(children[0]?.written.at(-1)).toEqual({ type: "acted", id: 7, reason: null });
  });
});
