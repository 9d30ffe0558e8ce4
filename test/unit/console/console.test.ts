import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { createConsole, type ConsoleRooms } from "../../../console/console.ts";
import { parsePsf2 } from "../../../console/font.ts";
import type { Key } from "../../../console/keymap.ts";
import { ARMING_MS } from "../../../console/prompt.ts";
import { createLog, type LogRecord } from "../../../sys/log.ts";
import { memorySink } from "../memory-sink.ts";

const font = parsePsf2(gunzipSync(readFileSync("/usr/share/consolefonts/spleen-16x32.psfu.gz")));
const char = (c: string): Key => ({ name: "char", char: c, ctrl: false, alt: false, shift: false });
const enter: Key = { name: "Enter", ctrl: false, alt: false, shift: false };
const tick = () => new Promise((r) => setTimeout(r, 0));

function setup(startResult: { ok: boolean; reason?: string } = { ok: true }, clock = { ms: 0 }) {
  const records: LogRecord[] = [];
  const started: string[] = [];
  const rooms: ConsoleRooms = {
    policies: () => ["shell", "web"],
    snapshot: () => [],
    start: async (name) => {
      started.push(name);
      return startResult;
    },
    kill: async () => true,
    reset: async () => ({ ok: true }),
    freeze: async () => true,
  };
  let writes = 0;
  const locks: string[] = [];
  const console = createConsole({
    log: createLog([memorySink(records)]),
    terminals: {
      read: () => new Promise(() => undefined),
      write: () => undefined,
      resize: () => undefined,
      close: () => undefined,
      sleep: async () => undefined,
    },
    surface: { width: 1280, height: 800, stride: 5120, write: () => void (writes += 1) },
    font,
    rooms,
    watchdog: () => "armed, 30 s",
    vault: {
      state: () => "open",
      lock: async () => {
        locks.push("lock");
        return locks.length > 1 ? "a write into the vault is in progress: big.bin from notes" : null;
      },
      newRecoveryKey: async () => {
        locks.push("recovery-key");
        return "wrong PIN, 2 tries left";
      },
    },
    now: () => new Date("2026-12-01T10:00:00Z"),
    clockMs: () => clock.ms,
  });
  return { console, records, started, locks, writes: () => writes };
}

describe("createConsole", () => {
  it("starts what the person picked and logs the action, never the keys", async () => {
    const { console, records, started } = setup();
    console.refresh();
    for (const key of [char("s"), char("h"), enter]) console.key(key);
    await tick();
    expect(started).toEqual(["shell"]);
    expect(records).toEqual([expect.objectContaining({ event: "console.action", action: "start", room: "shell" })]);
    expect(JSON.stringify(records)).not.toMatch(/"sh"|"char"/);
  });

  it("shows a refused start's reason on screen", async () => {
    const { console, writes } = setup({ ok: false, reason: "image 'minimal' is not available" });
    console.refresh();
    const before = writes();
    console.key(char("w"));
    console.key(enter);
    await tick();
    expect(writes()).toBeGreaterThan(before);
  });

  it("redraws nothing when nothing changed", () => {
    const { console, writes } = setup();
    console.refresh();
    const before = writes();
    console.refresh();
    expect(writes()).toBe(before);
  });

  it("gives a prompt every key until it is answered, one at a time, and logs no secret", async () => {
    const clock = { ms: 0 };
    const { console, records, started } = setup({ ok: true }, clock);
    console.refresh();
    const first = console.ask({ kind: "secret", title: "Unlock", label: "PIN", minLength: 4, maxLength: 8 });
    const second = console.ask({
      kind: "choice",
      title: "Send?",
      lines: [],
      choices: ["Deny", "Allow"],
      timeoutMs: 1000,
    });
    // Typed as the prompt appeared: nothing reaches it, nothing reaches the launcher.
    for (const c of "9999") console.key(char(c));
    console.key(enter);
    clock.ms = ARMING_MS;
    for (const c of "4711") console.key(char(c));
    console.key(enter);
    expect(await first).toEqual({ kind: "secret", value: "4711" });
    expect(started).toEqual([]);
    // The next prompt is armed afresh: a Down and Enter at once after the last answer do not approve it.
    console.key({ name: "Down", ctrl: false, alt: false, shift: false });
    console.key(enter);
    clock.ms = 2 * ARMING_MS;
    console.key({ name: "Down", ctrl: false, alt: false, shift: false });
    console.key(enter);
    expect(await second).toEqual({ kind: "choice", index: 1, timedOut: false });
    expect(records.filter((r) => r.event === "console.prompt").map((r) => r.outcome)).toEqual(["answered", "answered"]);
    expect(JSON.stringify(records)).not.toContain("4711");
  });

  it("dismisses a room's request as a denial on Ctrl-Alt-Esc, and keeps bay0's own question on the screen", async () => {
    const clock = { ms: 0 };
    const { console, records } = setup({ ok: true }, clock);
    const pin = console.ask({ kind: "secret", title: "Vault: unlock", label: "PIN", minLength: 4, maxLength: 8 });
    console.key("secure-attention");
    const request = console.ask({
      kind: "choice",
      title: "Courier: web sends a file",
      lines: [],
      choices: ["Deny", "Deliver"],
      timeoutMs: 30_000,
      dismissable: true,
    });
    clock.ms = ARMING_MS;
    for (const c of "4711") console.key(char(c));
    console.key(enter);
    expect(await pin).toEqual({ kind: "secret", value: "4711" });
    console.key("secure-attention");
    expect(await request).toEqual({ kind: "choice", index: 0, timedOut: false });
    expect(
      records.filter((r) => r.event === "console.prompt").map((r) => `${String(r.title)}: ${String(r.outcome)}`),
    ).toEqual(["Vault: unlock: answered", "Courier: web sends a file: cancelled"]);
  });

  it("keeps a confirmation up, past any timeout and however many prompts wait, until Enter", async () => {
    const clock = { ms: 0 };
    const { console, records } = setup({ ok: true }, clock);
    const questions = Array.from({ length: 6 }, () =>
      console.ask({ kind: "choice", title: "Send?", lines: [], choices: ["Deny", "Allow"], timeoutMs: 1000 }),
    );
    let confirmed = false;
    const key = console
      .ask({ kind: "confirm", title: "Vault: your recovery key", lines: [], choice: "I have written it down" })
      .then(() => (confirmed = true));
    // The first question times out; the rest in turn, and the last two were refused at once for want of room.
    for (let i = 1; i <= 6; i++) {
      clock.ms = i * 2000;
      console.refresh();
    }
    await Promise.all(questions);
    clock.ms = 60 * 60_000;
    console.refresh();
    console.key({ name: "Esc", ctrl: false, alt: false, shift: false });
    await tick();
    expect(confirmed).toBe(false);
    console.key(enter);
    await key;
    expect(records.filter((r) => r.event === "console.prompt").at(-1)).toMatchObject({
      kind: "confirm",
      outcome: "answered",
    });
  });

  it("locks the vault on Ctrl-L only once the person confirms at bay0's prompt, and logs the action", async () => {
    const clock = { ms: 0 };
    const { console, records, locks } = setup({ ok: true }, clock);
    const ctrlL: Key = { name: "char", char: "l", ctrl: true, alt: false, shift: false };
    console.key(ctrlL);
    await tick();
    clock.ms += ARMING_MS;
    console.key(enter);
    await tick();
    expect(locks).toEqual([]);
    console.key(ctrlL);
    await tick();
    clock.ms += ARMING_MS;
    console.key({ name: "Down", ctrl: false, alt: false, shift: false });
    console.key(enter);
    await tick();
    expect(locks).toEqual(["lock"]);
    expect(records.filter((r) => r.event === "console.action").map((r) => r.action)).toEqual([
      "lock-vault",
      "lock-vault",
    ]);
    expect(records.filter((r) => r.event === "console.prompt").map((r) => r.outcome)).toEqual(["answered", "answered"]);
  });

  it("asks the vault for a new recovery key on Ctrl-N, and logs the action", async () => {
    const { console, records, locks } = setup({ ok: true });
    console.key({ name: "char", char: "n", ctrl: true, alt: false, shift: false });
    await tick();
    expect(locks).toEqual(["recovery-key"]);
    expect(records.filter((r) => r.event === "console.action")).toEqual([
      expect.objectContaining({ action: "recovery-key", room: "vault" }),
    ]);
  });

  it("answers a question nobody answers with its default when time runs out", async () => {
    const clock = { ms: 0 };
    const { console, records } = setup({ ok: true }, clock);
    const asked = console.ask({
      kind: "choice",
      title: "Send?",
      lines: [],
      choices: ["Deny", "Allow"],
      timeoutMs: 30_000,
    });
    clock.ms = 30_001;
    console.refresh();
    expect(await asked).toEqual({ kind: "choice", index: 0, timedOut: true });
    expect(records.at(-1)).toMatchObject({ event: "console.prompt", outcome: "timeout" });
  });

  it("focuses a terminal room started from the launcher, types into it, and gives Ctrl-Alt-Esc to no room", async () => {
    const written: string[] = [];
    let feed: (chunk: Uint8Array) => Promise<void> = async () => undefined;
    let end: () => void = () => undefined;
    const records: LogRecord[] = [];
    let screen: ReturnType<typeof createConsole> | null = null;
    screen = createConsole({
      log: createLog([memorySink(records)]),
      terminals: {
        read: (_fd, onChunk) => {
          feed = onChunk;
          return new Promise<void>((resolve) => {
            end = resolve;
          });
        },
        write: (_fd, text) => void written.push(text),
        resize: () => undefined,
        close: () => undefined,
        sleep: async () => undefined,
      },
      surface: { width: 1280, height: 800, stride: 5120, write: () => undefined },
      font,
      rooms: {
        policies: () => ["shell"],
        snapshot: () => [],
        // The terminal arrives while the room starts, as crun hands it over.
        start: async (name) => {
          screen?.attach(name, 42);
          return { ok: true };
        },
        kill: async () => true,
        reset: async () => ({ ok: true }),
        freeze: async () => true,
      },
      watchdog: () => "armed",
      vault: {
        state: () => "not set up",
        lock: async () => "the vault is not set up",
        newRecoveryKey: async () => "the vault is not set up",
      },
      now: () => new Date(0),
      clockMs: () => 0,
    });
    for (const c of "shell") screen.key(char(c));
    screen.key(enter);
    await tick();
    expect(
      records.filter((r) => r.event === "console.action").map((r) => `${String(r.action)} ${String(r.room)}`),
    ).toEqual(["start shell", "focus shell"]);
    await feed(new TextEncoder().encode("/ $ "));
    screen.key(char("l"));
    screen.key(enter);
    expect(written).toEqual(["l", "\r"]);
    screen.key("secure-attention");
    screen.key(char("x"));
    expect(written).toEqual(["l", "\r"]);
    expect(records.at(-1)).toMatchObject({ action: "focus", room: "bay0" });
    end();
    await tick();
  });

  it("makes a room whose output costs bay0 more than a fifth of a CPU wait, and says so once", async () => {
    const records: LogRecord[] = [];
    let feed: (chunk: Uint8Array) => Promise<void> = async () => undefined;
    // Each look at the clock is 150 ms later: every chunk seems to take the parser that long.
    let ms = 0;
    const screen = createConsole({
      log: createLog([memorySink(records)]),
      terminals: {
        read: (_fd, onChunk) => {
          feed = onChunk;
          return new Promise<void>(() => undefined);
        },
        write: () => undefined,
        resize: () => undefined,
        close: () => undefined,
        sleep: async () => undefined,
      },
      surface: { width: 1280, height: 800, stride: 5120, write: () => undefined },
      font,
      rooms: {
        policies: () => [],
        snapshot: () => [],
        start: async () => ({ ok: true }),
        kill: async () => true,
        reset: async () => ({ ok: true }),
        freeze: async () => true,
      },
      watchdog: () => "armed",
      vault: {
        state: () => "not set up",
        lock: async () => "the vault is not set up",
        newRecoveryKey: async () => "the vault is not set up",
      },
      now: () => new Date(0),
      clockMs: () => (ms += 150),
    });
    screen.attach("noisy", 7);
    // Four looks a chunk: 600 ms pass, 150 of them parsing, while the budget refills 120: the 2 s burst lasts about 67 chunks.
    for (let i = 0; i < 60; i++) await feed(new TextEncoder().encode("x"));
    expect(records.filter((r) => r.event === "console.terminal_throttled")).toEqual([]);
    for (let i = 0; i < 40; i++) await feed(new TextEncoder().encode("x"));
    expect(records.filter((r) => r.event === "console.terminal_throttled")).toEqual([
      expect.objectContaining({ room: "noisy", parse_ms_per_second: 200 }),
    ]);
  });
});
