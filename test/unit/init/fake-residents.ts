import type { ChildExit, Spawner } from "../../../sys/spawn.ts";

/** A spawner whose children are the test's: it reads what bay0 wrote to each helper, speaks for it, and ends it. */
export function fakeResidents<In, Out>() {
  const helpers: {
    argv: string[];
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
      helpers.push({ argv, user: options.user, written, say: (m) => onLine("stdout", JSON.stringify(m)), end });
      return {
        pid: 200 + helpers.length,
        exited,
        stdin: { write: (text: string) => void written.push(JSON.parse(text) as In), end: () => undefined },
      };
    },
  };
  return { spawner, helpers };
}
