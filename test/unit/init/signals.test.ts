import { EventEmitter } from "node:events";
import { describe, expect, it } from "vitest";
import { createPowerControl, installSignalHandlers, SIGNAL_ACTIONS } from "../../../init/signals.ts";
import type { ShutdownAction } from "../../../init/shutdown.ts";
import { createLog, type LogRecord } from "../../../sys/log.ts";
import { memorySink } from "../memory-sink.ts";

describe("signals", () => {
  it("maps Ctrl-Alt-Del (SIGINT) to reboot and SIGTERM to power-off, never SIGPWR", () => {
    expect(SIGNAL_ACTIONS).toEqual({ SIGINT: "reboot", SIGTERM: "poweroff" });
    expect(Object.keys(SIGNAL_ACTIONS)).not.toContain("SIGPWR");
  });

  it("logs each signal and asks for the matching shutdown; SIGCHLD triggers a reap", () => {
    const emitter = new EventEmitter();
    const records: LogRecord[] = [];
    const asked: [ShutdownAction, string][] = [];
    let reaps = 0;
    installSignalHandlers(emitter as unknown as NodeJS.Process, createLog([memorySink(records)]), {
      shutdown: (action, reason) => asked.push([action, reason]),
      childExited: () => {
        reaps += 1;
      },
    });
    emitter.emit("SIGINT");
    emitter.emit("SIGTERM");
    emitter.emit("SIGCHLD");
    expect(asked).toEqual([
      ["reboot", "SIGINT"],
      ["poweroff", "SIGTERM"],
    ]);
    expect(reaps).toBe(1);
    expect(records.filter((r) => r.event === "signal.received").map((r) => r.signal)).toEqual(["SIGINT", "SIGTERM"]);
  });

  it("an exception in a handler becomes bay0.error and the next signal is still handled", () => {
    const emitter = new EventEmitter();
    const records: LogRecord[] = [];
    let calls = 0;
    installSignalHandlers(emitter as unknown as NodeJS.Process, createLog([memorySink(records)]), {
      shutdown: () => {
        calls += 1;
        throw new Error("boom");
      },
      childExited: () => undefined,
    });
    emitter.emit("SIGTERM");
    emitter.emit("SIGTERM");
    expect(calls).toBe(2);
    expect(records.filter((r) => r.event === "bay0.error").map((r) => r.error)).toEqual(["boom", "boom"]);
  });
});

describe("createPowerControl", () => {
  it("runs the shutdown sequence once, whatever asks again", async () => {
    const records: LogRecord[] = [];
    const runs: ShutdownAction[] = [];
    const request = createPowerControl(createLog([memorySink(records)]), async (action) => {
      runs.push(action);
    });
    request("poweroff", "power-button");
    request("reboot", "SIGINT");
    expect(runs).toEqual(["poweroff"]);
    expect(records.find((r) => r.event === "shutdown.already")).toMatchObject({
      action: "poweroff",
      ignored: "reboot",
    });
  });

  it("logs a failing shutdown sequence as bay0.error", async () => {
    const records: LogRecord[] = [];
    const request = createPowerControl(createLog([memorySink(records)]), () => Promise.reject(new Error("stuck")));
    request("poweroff", "test");
    await new Promise((r) => setTimeout(r, 0));
    expect(records.find((r) => r.event === "bay0.error")?.error).toMatch(/stuck/);
  });
});
