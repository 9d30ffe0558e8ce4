import { describe, expect, it } from "vitest";
import type { PromptAnswer, PromptRequest } from "../../../console/protocol.ts";
import { blessWhenHealthy, health, offerUpdates } from "../../../init/update.ts";
import type { Rooms } from "../../../init/rooms.ts";
import { createLog, type LogRecord } from "../../../sys/log.ts";
import type { ChildExit, Spawner } from "../../../sys/spawn.ts";
import { memorySink } from "../memory-sink.ts";

/**
 * bay0's side of updates with a fake update helper: `script` is what the
 * helper does once started (its argv, a way to say a line, to end); the
 * answers bay0 writes it are collected.
 */
function harness(script: (argv: string[], say: (message: object) => void, end: (exit: ChildExit) => void) => void) {
  const records: LogRecord[] = [];
  const started: string[][] = [];
  const answers: unknown[] = [];
  const spawner: Spawner = {
    spawn(argv, onLine) {
      started.push(argv);
      let end: (exit: ChildExit) => void = () => undefined;
      const exited = new Promise<ChildExit>((resolve) => (end = resolve));
      setTimeout(() => script(argv.slice(1), (m) => onLine("stdout", JSON.stringify(m)), end), 0);
      return {
        pid: 4300,
        exited,
        stdin: { write: (text) => void answers.push(JSON.parse(text)), end: () => undefined },
      };
    },
    isOwn: () => false,
  };
  const deps = { spawner, log: createLog([memorySink(records)]), sleep: () => new Promise<void>(() => undefined) };
  return { deps, records, started, answers };
}

/** Rooms whose autostart of web and work ended with `autostarted`, listing `running` after the settle time. */
const rooms = (autostarted: string | null, running: { id: string; started: boolean }[]): Rooms =>
  ({
    autostart: ["web", "work"],
    autostarted: Promise.resolve(autostarted),
    supervisor: { list: () => running },
  }) as unknown as Rooms;

describe("updates, bay0's side", () => {
  it("blesses a healthy trial boot through the helper, and reboots one that is not, without blessing it", async () => {
    const healthy = harness((_argv, say, end) => {
      say({ level: "info", event: "update.blessed", version: "0.2.0" });
      say({ done: "blessed" });
      end({ status: 0, signal: null });
    });
    let reboots = 0;
    expect(await blessWhenHealthy(healthy.deps, Promise.resolve(null), () => void reboots++)).toBe(true);
    expect(healthy.started.map((argv) => argv.slice(1))).toEqual([["update", "bless"]]);
    expect(healthy.records.map((r) => r.event)).toEqual(["update.blessed"]);
    expect(reboots).toBe(0);

    const sick = harness(() => undefined);
    expect(
      await blessWhenHealthy(sick.deps, Promise.resolve("room web did not start: no image"), () => void reboots++),
    ).toBe(false);
    expect(sick.started).toEqual([]);
    expect(reboots).toBe(1);
    expect(sick.records).toMatchObject([{ event: "update.unhealthy", reason: "room web did not start: no image" }]);
  });

  it("reboots a trial boot that is not healthy in time", async () => {
    const slow = harness(() => undefined);
    let reboots = 0;
    const deps = { ...slow.deps, sleep: () => Promise.resolve() };
    await blessWhenHealthy(deps, new Promise(() => undefined), () => void reboots++);
    expect(reboots).toBe(1);
    expect(slow.records[0]?.reason).toMatch(/^not healthy within/);
  });

  it("calls a boot healthy only when the autostart rooms started and still run after the settle time", async () => {
    const wait = () => Promise.resolve();
    const up = (id: string, started = true) => ({ id, started });
    expect(await health(rooms(null, [up("web"), up("work"), up("extra")]), wait)).toBeNull();
    // One that died while the other was still being started counts as much as one that died after.
    expect(await health(rooms(null, [up("work")]), wait)).toBe("web not running 10 s after the autostart");
    expect(await health(rooms(null, [up("web", false), up("work")]), wait)).toBe(
      "web not running 10 s after the autostart",
    );
    expect(await health(rooms("the base images were not mounted", []), wait)).toBe("the base images were not mounted");
  });

  it("reboots a healthy trial boot the helper could not bless, and starts nothing after it", async () => {
    const refuses = harness((_argv, say, end) => {
      say({ level: "warn", event: "update.failed", reason: "anchor_0.2.0.efi is there beside anchor_0.2.0+2-1.efi" });
      say({ done: "none" });
      end({ status: 0, signal: null });
    });
    let reboots = 0;
    expect(await blessWhenHealthy(refuses.deps, Promise.resolve(null), () => void reboots++)).toBe(false);
    expect(reboots).toBe(1);
    expect(refuses.records.map((r) => r.event)).toEqual(["update.failed", "update.unhealthy"]);
  });

  it("shows the helper's prompt at the console and writes the answer back; headless, it asks nobody", async () => {
    const asked: PromptRequest[] = [];
    const prompt: PromptRequest = {
      kind: "choice",
      title: "Update",
      lines: [],
      choices: ["Deny", "Install 0.2.0"],
      timeoutMs: 1000,
    };
    const script = (argv: string[], say: (m: object) => void, end: (e: ChildExit) => void): void => {
      if (argv.at(-1) === "console") say({ prompt });
      setTimeout(() => {
        say({ done: "installed" });
        end({ status: 0, signal: null });
      }, 5);
    };
    const withConsole = harness(script);
    await offerUpdates(withConsole.deps, "a", async (request): Promise<PromptAnswer> => {
      asked.push(request);
      return { kind: "choice", index: 1, timedOut: false };
    });
    expect(withConsole.started.map((argv) => argv.slice(1))).toEqual([["update", "offer", "a", "console"]]);
    expect(asked).toEqual([prompt]);
    expect(withConsole.answers).toEqual([{ answer: { kind: "choice", index: 1, timedOut: false } }]);

    const headless = harness(script);
    await offerUpdates(headless.deps, "b", null);
    expect(headless.started.map((argv) => argv.slice(1))).toEqual([["update", "offer", "b", "headless"]]);
    expect(headless.answers).toEqual([]);
  });

  it("logs a helper that dies without its last word as update.failed", async () => {
    const dies = harness((_argv, _say, end) => end({ status: null, signal: "SIGSEGV" }));
    await offerUpdates(dies.deps, "a", null);
    expect(dies.records).toMatchObject([{ event: "update.failed", reason: expect.stringMatching(/SIGSEGV/) }]);
  });
});
