import { describe, expect, it } from "vitest";
import { createBunSpawner, type StartedProcess } from "../../../sys/spawn-bun.ts";

/** A look-alike of a Bun subprocess whose exit and output streams the test controls. */
function fakeProcess(pid: number) {
  let exit: (code: number) => void = () => undefined;
  const controllers: ReadableStreamDefaultController<Uint8Array>[] = [];
  const stream = (): ReadableStream<Uint8Array> => new ReadableStream({ start: (c) => void controllers.push(c) });
  const proc = {
    pid,
    stdout: stream(),
    stderr: stream(),
    exitCode: null as number | null,
    signalCode: null,
    exited: new Promise<number>((resolve) => {
      exit = resolve;
    }),
  };
  return {
    proc: proc as StartedProcess,
    exit(code: number) {
      proc.exitCode = code;
      exit(code);
    },
    closeStreams: () => controllers.forEach((c) => c.close()),
    failStreams: () => controllers.forEach((c) => c.error(new Error("pipe broke"))),
  };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe("createBunSpawner", () => {
  it("stops calling a pid its own once Bun has waited for it, even while a grandchild keeps its pipes open", async () => {
    const fake = fakeProcess(4321);
    const spawner = createBunSpawner({}, new Set(), () => fake.proc);
    const child = spawner.spawn(["crun"], () => undefined);
    expect(spawner.isOwn(4321)).toBe(true);
    fake.exit(0);
    await tick();
    // The pipes are still open (a grandchild holds them): the pid may already belong to an orphan.
    expect(spawner.isOwn(4321)).toBe(false);
    fake.closeStreams();
    expect(await child.exited).toEqual({ status: 0, signal: null });
  });
});

describe("a child's stdin from bay0", () => {
  it("is a pipe only when asked for; each write is flushed at once, and a write to a child gone does not throw", async () => {
    const written: string[] = [];
    const stdins: unknown[] = [];
    const fakes = [fakeProcess(76), fakeProcess(77)];
    const fake = fakes[1]!;
    const sink = {
      write: (text: string) => void written.push(text),
      flush: () => void written.push("<flush>"),
      end: () => void written.push("<end>"),
    };
    const spawner = createBunSpawner({}, new Set(), (_argv, _env, stdin) => {
      stdins.push(stdin);
      const proc = fakes[stdins.length - 1]!.proc;
      return stdin === "pipe" ? Object.assign(proc, { stdin: sink }) : proc;
    });
    expect(spawner.spawn(["crun"], () => undefined).stdin).toBeUndefined();
    const child = spawner.spawn(["bay0", "vault-open"], () => undefined, { input: true });
    expect(stdins).toEqual([undefined, "pipe"]);
    child.stdin?.write('{"do":"lockout"}\n');
    child.stdin?.end();
    await tick();
    expect(written).toEqual(['{"do":"lockout"}\n', "<flush>", "<end>"]);
    sink.write = () => {
      throw new Error("EPIPE");
    };
    child.stdin?.write("late\n");
    await tick();
    fake.exit(0);
    fake.closeStreams();
    expect(await child.exited).toEqual({ status: 0, signal: null });
  });
});
