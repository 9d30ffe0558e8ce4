import { constants, mkdirSync, openSync, readFileSync } from "node:fs";
import { verifyAudit } from "../audit/verify.ts";
import { createLineSplitter } from "../sys/lines.ts";
import { openHelperLibc } from "../sys/libc-helper.ts";
import type { Log } from "../sys/log.ts";
import type { SignalTarget } from "./signals.ts";
import { guarded } from "./guard.ts";
import { planRoom } from "../rooms/plan.ts";
import type { Rooms } from "./rooms.ts";
import type { ConsoleLink } from "./console-link.ts";

/** Test builds only: lines written here drive the rooms, as the umbilical and console will. */
export const TEST_CONTROL_FIFO = "/run/anchor/test-control";

/**
 * Runs one control line: "start NAME", "kill ID", "reset ID", "freeze ID",
 * "thaw ID", "spawn PARENT NAME", "bundle NAME" (prepare a room's bundle
 * without running it, for benchmarks of bare crun), "prompt-secret" or
 * "prompt-choice [TIMEOUT_MS]" (open a console prompt), "console-kill",
 * "umbilical-kill" and "builder-kill" (that helper killed as a crash would), "audit" (verify
 * bay0's audit log and log which events it holds).
 */
async function control(rooms: Rooms, log: Log, line: string, screen: ConsoleLink | null): Promise<void> {
  const [verb, first = "", second = ""] = line.trim().split(/\s+/);
  const { supervisor, policies } = rooms;
  const policy = (name: string) => policies.get(name);
  let outcome: { ok: boolean; reason?: string };
  switch (verb) {
    case "start": {
      const p = policy(first);
      outcome = p ? await supervisor.start(p) : { ok: false, reason: `no policy '${first}'` };
      break;
    }
    case "spawn": {
      const p = policy(second);
      outcome = p ? await supervisor.spawnChild(first, p) : { ok: false, reason: `no policy '${second}'` };
      break;
    }
    case "bundle": {
      const p = policy(first);
      const plan = p ? planRoom(p) : null;
      const error = plan ? await supervisor.prepare(plan) : `no policy '${first}'`;
      outcome = error === null ? { ok: true } : { ok: false, reason: error };
      if (plan && error === null) log.info("test.bundle", { bundle: plan.dirs.bundle, cgroup: plan.cgroup.leaf });
      break;
    }
    case "kill":
      outcome = { ok: await supervisor.kill(first) };
      break;
    case "reset":
      outcome = await supervisor.reset(first);
      break;
    case "freeze":
    case "thaw":
      outcome = { ok: supervisor.freeze(first, verb === "freeze") };
      break;
    case "console-kill":
      outcome = { ok: screen?.kill() ?? false };
      break;
    case "umbilical-kill":
      outcome = { ok: rooms.umbilical.kill() };
      break;
    case "builder-kill":
      outcome = { ok: rooms.builder.kill() };
      break;
    case "prompt-secret":
    case "prompt-choice": {
      const ask = screen?.ask() ?? null;
      if (ask === null) {
        outcome = { ok: false, reason: "no console" };
        break;
      }
      // Answered in the background: the test types while this waits. The answer is logged by its shape only.
      const asked =
        verb === "prompt-secret"
          ? ask({ kind: "secret", title: "Test: unlock", label: "PIN", minLength: 4, maxLength: 32 })
          : ask({
              kind: "choice",
              title: "Test: send file?",
              lines: ["from: web", "report.pdf"],
              choices: ["Deny", "Allow to work"],
              timeoutMs: Number(first) || 30_000,
            });
      void asked.then((answer) =>
        log.info(
          "test.prompt",
          answer.kind === "secret"
            ? { kind: "secret", length: answer.value?.length ?? null }
            : answer.kind === "choice"
              ? { kind: "choice", index: answer.index, timed_out: answer.timedOut }
              : { kind: "confirm" },
        ),
      );
      outcome = { ok: true };
      break;
    }
    case "audit": {
      const text = readFileSync("/run/anchor/audit.jsonl", "utf8");
      const verdict = verifyAudit(text);
      const events = text
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => String((JSON.parse(l) as { event?: unknown }).event));
      log.info("test.audit", { ...verdict, events: [...new Set(events)] });
      outcome = { ok: verdict.ok };
      break;
    }
    default:
      outcome = { ok: false, reason: `unknown command '${verb}'` };
  }
  log.info("test.control", {
    command: line.trim(),
    ok: outcome.ok,
    ...(outcome.reason ? { reason: outcome.reason } : {}),
  });
}

/**
 * Faults and controls on demand, compiled only into test builds
 * (ANCHOR_TEST_HOOKS): a release bay0 has no SIGUSR1/SIGUSR2 listeners, so
 * the kernel drops both, and no control FIFO.
 *   SIGUSR1: throw inside an event handler (must become `bay0.error`).
 *   SIGUSR2: wedge the event loop (the watchdog must reset the machine).
 */
export function installTestHooks(
  target: SignalTarget,
  log: Log,
  rooms: Rooms | null,
  screen: ConsoleLink | null,
): void {
  target.on(
    "SIGUSR1",
    guarded(log, "signal:SIGUSR1", () => {
      log.info("test.throwing");
      throw new Error("test hook: exception inside an event handler");
    }),
  );
  target.on("SIGUSR2", () => {
    log.info("test.wedging");
    const until = Number.POSITIVE_INFINITY;
    while (Date.now() < until) {
      // Spin: timers, including the watchdog feed, never run again.
    }
  });
  if (rooms === null) return;
  try {
    mkdirSync("/run/anchor", { recursive: true });
    const fifo = openHelperLibc().mkfifo(TEST_CONTROL_FIFO, 0o600);
    if (!fifo.ok) throw new Error(`mkfifo ${TEST_CONTROL_FIFO}: ${fifo.message}`);
    // Read-write, so the FIFO never reports end-of-file between writers.
    const fd = openSync(TEST_CONTROL_FIFO, constants.O_RDWR | constants.O_NONBLOCK);
    let queue = Promise.resolve();
    const splitter = createLineSplitter((line) => {
      queue = queue
        .then(() => control(rooms, log, line, screen))
        .catch((error: unknown) => log.error("bay0.error", { where: "test-control", error: String(error) }));
    });
    void (async () => {
      for await (const chunk of Bun.file(fd).stream()) splitter.push(chunk);
    })();
    log.info("test.control_ready", { fifo: TEST_CONTROL_FIFO });
  } catch (error) {
    log.error("bay0.error", { where: "test-control", error: String(error) });
  }
}
