/**
 * A resident helper: bay0's own executable in a long-lived mode (the trusted
 * console, the umbilical's server, the room builder), run as a user of its
 * own (the builder as root), started at boot and again whenever it dies
 * (`NAME.restarted`), after a pause that grows while it keeps dying soon
 * after its start, so a crash loop costs little. A machine that shuts down
 * starts no new one. Only the latest helper's words count: a message from
 * one that was replaced is dropped.
 */
import type { z } from "zod";
import { SIG, type Libc } from "../sys/libc.ts";
import type { Log } from "../sys/log.ts";
import type { Spawner } from "../sys/spawn.ts";
import { exitText, startHelper } from "./helper.ts";

const RESTART_MS = [500, 2000, 10_000, 30_000];
/** A helper that lived this long was not crash-looping: the next restart is quick again. */
const STABLE_MS = 60_000;

export type ResidentChild<In> = {
  pid: number;
  /** Counts the helpers started: a reply names the one it was for. */
  generation: number;
  /** bay0's end of the socket pair on the helper's fd 3 (file descriptors go there), or null without one. */
  channel: number | null;
  write(message: In): void;
};

export type ResidentOptions<In, Out> = {
  /** The helper's mode (`bay0 NAME`) and its events' prefix (`NAME.restarted`, `NAME.failed`). */
  name: string;
  /** The events it may have bay0 log (init/helper.ts). */
  prefix: string;
  reply: z.ZodType<Out>;
  /** Its own user; root without one. */
  user?: { uid: number; gid: number };
  channel: boolean;
  /** The longest line bay0 reads from it before cutting (init/helper.ts). */
  lineMax?: number;
  onStart(child: ResidentChild<In>): void;
  onMessage(child: ResidentChild<In>, message: Out): void;
  onExit(child: ResidentChild<In>): void;
};

export function keepResident<In, Out>(
  deps: { libc: Libc; log: Log; spawner: Spawner; now: () => number },
  options: ResidentOptions<In, Out>,
) {
  const { libc, log } = deps;
  let generation = 0;
  let child: ResidentChild<In> | null = null;
  let quickDeaths = 0;
  let stopping = false;

  const again = (startedAt: number, reason: string, lastWords: string): void => {
    quickDeaths = deps.now() - startedAt < STABLE_MS ? quickDeaths + 1 : 0;
    const delay = RESTART_MS[Math.min(quickDeaths, RESTART_MS.length) - 1] ?? RESTART_MS[0] ?? 0;
    if (stopping) return;
    log.warn(`${options.name}.restarted`, { reason, last_words: lastWords, after_ms: delay });
    setTimeout(start, delay);
  };

  const start = (): void => {
    // A restart already scheduled when the machine began to shut down.
    if (stopping) return;
    const startedAt = deps.now();
    let ours: number | null = null;
    let theirs: number[] = [];
    if (options.channel) {
      const pair = libc.socketPair();
      if (!pair.ok) {
        log.error(`${options.name}.failed`, { reason: `socketpair: ${pair.message}` });
        return again(startedAt, "no socket pair", "");
      }
      [ours] = pair.fds;
      theirs = [pair.fds[1]];
    }
    const mine = ++generation;
    const helper = startHelper({ spawner: deps.spawner, log }, [options.name], {
      prefix: options.prefix,
      reply: options.reply,
      onReply: (message) => {
        if (child?.generation === mine) options.onMessage(child, message);
      },
      input: true,
      fds: theirs,
      user: options.user,
      lineMax: options.lineMax,
    });
    for (const fd of theirs) libc.close(fd);
    const stdin = helper.child.stdin;
    const started: ResidentChild<In> = {
      pid: helper.child.pid,
      generation: mine,
      channel: ours,
      write: (message) => stdin?.write(`${JSON.stringify(message)}\n`),
    };
    child = started;
    options.onStart(started);
    void helper.child.exited.then((exit) => {
      if (ours !== null) libc.close(ours);
      if (child?.generation !== mine) return;
      child = null;
      options.onExit(started);
      again(startedAt, exitText(exit), helper.lastWords());
    });
  };

  return {
    /** Starts the first helper (once what its callbacks use exists). */
    start,
    current: (): ResidentChild<In> | null => child,
    stopRestarting: (): void => void (stopping = true),
    /** The helper killed (a stalled one, or a test's crash). */
    kill: (): boolean => child !== null && libc.kill(child.pid, SIG.SIGKILL).ok,
  };
}
