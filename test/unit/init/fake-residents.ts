import type { ChildExit, Spawner } from "../../../sys/spawn.ts";

/**
 * A spawner whose children are the test's: it reads what bay0 wrote to each helper, speaks for it, and ends it.
 * The children's pids count up from `firstPid`.
 */
export function fakeResidents<In, Out>(firstPid = 201) {
  const helpers: {
    pid: number;
    argv: string[];
    fds: number[];
    user: unknown;
    written: In[];
    say: (m: Out) => void;
    end: (e: ChildExit) => void;
  }[] = [];
  const spawner: Spawner = {
    isOwn: () => false,
    spawn(argv, onLine, options = {}) {
      let end: (exit: ChildExit) => void = () => undefined;
      const exited = new Promise<ChildExit>((resolve) => (end = resolve));
      const written: In[] = [];
      const pid = firstPid + helpers.length;
      helpers.push({
        pid,
        argv,
        fds: options.fds ?? [],
        user: options.user,
        written,
        say: (m) => onLine("stdout", JSON.stringify(m)),
        end,
      });
      return {
        pid,
        exited,
        stdin: { write: (text: string) => void written.push(JSON.parse(text) as In), end: () => undefined },
      };
    },
  };
  return { spawner, helpers };
}
