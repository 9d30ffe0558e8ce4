import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inBun } from "../../qemu/in-bun.ts";
import { ROOT } from "../../qemu/paths.ts";

/**
 * bay0's courier arbiter (init/courier.ts) with a carrier that stages for
 * real (courier/carry.ts's stageFile: the real openat2, in a Bun process of
 * its own) but in this process, without cgroups: two rooms' roots on disk, a
 * fake person at the prompt and a clock the script moves. Each step prints
 * the reply, what the person was asked, the log records it made and what the
 * carrier was asked.
 */
const script = (base: string): string => `
  import { createCourier } from ${JSON.stringify(join(ROOT, "init", "courier.ts"))};
  import { stageFile } from ${JSON.stringify(join(ROOT, "courier", "carry.ts"))};
  import { openLibc } from ${JSON.stringify(join(ROOT, "sys", "libc-ffi.ts"))};
  import { openHelperLibc } from ${JSON.stringify(join(ROOT, "sys", "libc-helper.ts"))};
  import { createLog } from ${JSON.stringify(join(ROOT, "sys", "log.ts"))};
  import { memorySink } from ${JSON.stringify(join(ROOT, "test", "unit", "memory-sink.ts"))};
  import { parsePolicy } from ${JSON.stringify(join(ROOT, "policies", "parse.ts"))};
  import { planRoom } from ${JSON.stringify(join(ROOT, "rooms", "plan.ts"))};
  const records = [];
  const carried = [];
  const plan = (text, rootfs) => {
    const parsed = parsePolicy(text, "test.toml");
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
    const room = planRoom(parsed.policy);
    return { ...room, dirs: { ...room.dirs, rootfs } };
  };
  const notes = plan('name = "notes"\\nimage = "minimal"\\ncommand = ["/bin/sh"]\\n[courier]\\nmax_size = "1K"\\n', ${JSON.stringify(join(base, "notes"))});
  const shell = plan('name = "shell"\\nimage = "minimal"\\ncommand = ["/bin/sh"]\\n[courier]\\ndeliveries = true\\n', ${JSON.stringify(join(base, "shell"))});
  let running = [notes, shell];
  const clock = { ms: 0 };
  const stopped = [];
  let pick = 0;
  let asked = [];
  const courier = createCourier({
    libc: openLibc(),
    log: createLog([memorySink(records)]),
    spawner: {
      isOwn: () => false,
      spawn: (argv, onLine) => {
        let end;
        const exited = new Promise((resolve) => (end = resolve));
        const libc = openHelperLibc();
        return {
          pid: 4242,
          exited,
          stdin: {
            write: (line) => {
              const request = JSON.parse(line);
              carried.push(request.do);
              const reply = request.do === "stage" ? stageFile(libc, request, ${JSON.stringify(join(base, "staged"))} + "/" + records.length + "-" + carried.length, null).reply : { ok: true, delivered: request.name };
              queueMicrotask(() => onLine("stdout", JSON.stringify(reply)));
            },
            end: () => end({ status: 0, signal: null }),
          },
        };
      },
    },
    running: () => running,
    ask: () => async (request) => {
      asked.push(request);
      // The receiver stops while the person looks.
      if (pick === 1) running = [notes];
      return { kind: "choice", index: pick, timedOut: false };
    },
    stop: async (room) => void stopped.push(room.id),
    clockMs: () => clock.ms,
    vault: { roomsDir: "/nonexistent", stagingDir: "/nonexistent", isOpen: () => false, writing: () => null },
  });
  const steps = [];
  const send = async (path) => {
    const from = records.length;
    asked = [];
    carried.length = 0;
    const reply = await courier(notes, path);
    steps.push({ path, reply, asked, carried: [...carried], records: records.slice(from).map(({ ts, ...r }) => r) });
  };
  await send("/tmp/report.txt");
  await send("/tmp/report.txt");
  clock.ms += 5_001;
  await send("/tmp/big.bin");
  await send("/tmp/hop/passwd");
  await send("/private/secret.txt");
  pick = 2;
  await send("/tmp/report.txt");
  await send("/tmp/report.txt");
  clock.ms += 10_001;
  pick = 1;
  await send("/tmp/report.txt");
  console.log(JSON.stringify({ steps, stopped }));
`;

type Step = {
  path: string;
  reply: { ok: boolean; error?: { code: string; message: string } };
  asked: { title: string; lines: string[]; choices: string[] }[];
  carried: string[];
  records: Record<string, unknown>[];
};

describe("bay0's courier arbiter", () => {
  const base = mkdtempSync(join(tmpdir(), "anchor-courier-arbiter-"));
  let steps: Step[] = [];
  let stopped: string[] = [];
  beforeAll(() => {
    for (const dir of ["notes/tmp", "notes/private", "notes/etc", "shell/inbox", "staged"])
      mkdirSync(join(base, dir), { recursive: true, mode: 0o755 });
    chmodSync(base, 0o755);
    writeFileSync(join(base, "notes/tmp/report.txt"), "quarterly figures: 42\n", { mode: 0o644 });
    writeFileSync(join(base, "notes/tmp/big.bin"), Buffer.alloc(2048), { mode: 0o644 });
    writeFileSync(join(base, "notes/etc/passwd"), "root:x:0:0\n", { mode: 0o644 });
    symlinkSync("/etc", join(base, "notes/tmp/hop"));
    writeFileSync(join(base, "notes/private/secret.txt"), "not for the room's user\n", { mode: 0o644 });
    chmodSync(join(base, "notes/private"), 0o700);
    ({ steps, stopped } = JSON.parse(inBun(script(base))) as { steps: Step[]; stopped: string[] });
  }, 60_000);
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  it("shows the person the file's name, size and whole hash, and a denial is the room's answer and its record", () => {
    const [denied] = steps;
    expect(denied?.asked[0]?.title).toBe("Courier: notes sends a file");
    expect(denied?.asked[0]?.lines).toEqual(expect.arrayContaining(["file:   report.txt", "size:   22 bytes"]));
    expect(denied?.asked[0]?.choices).toEqual(["Deny", "Deliver to shell: /inbox", "Deny and stop notes"]);
    expect(denied?.reply).toMatchObject({ ok: false, error: { code: "refused", message: "denied at the console" } });
    expect(denied?.records.map((r) => r.event)).toEqual(["courier.requested", "courier.denied"]);
    expect(denied?.records[0]).toMatchObject({
      room: "notes",
      file: "report.txt",
      size: 22,
      sha256: createHash("sha256").update("quarterly figures: 42\n").digest("hex"),
    });
    // The carrier staged it and was let go: nothing was delivered.
    expect(denied?.carried).toEqual(["stage"]);
  });

  it("makes a room the person denied wait before it may ask again, without asking", () => {
    expect(steps[1]?.asked).toEqual([]);
    expect(steps[1]?.reply.error?.message).toMatch(/^the person denied notes's last transfer; ask again in 5 s$/);
  });

  it("refuses, before asking anyone, a file over the room's limit, a path through a link, and one the room's user could not open", () => {
    for (const step of steps.slice(2, 5)) {
      expect(step.asked).toEqual([]);
      expect(step.carried).toEqual(["stage"]);
      expect(step.records).toEqual([expect.objectContaining({ event: "courier.denied", by: "policy" })]);
    }
    expect(steps[2]?.reply.error?.message).toBe("the file is 2048 bytes; notes's policy sends at most 1024");
    expect(steps[3]?.reply.error?.message).toBe("a link is in the path (send the file by its own path)");
    expect(steps[4]?.reply.error?.message).toBe("/private/secret.txt is in a directory the room's user may not enter");
  });

  it("stops the room when the person picks Deny and stop, and doubles the wait after a second denial", () => {
    expect(steps[5]?.reply.error?.message).toBe("denied at the console, and the room is stopped");
    expect(stopped).toEqual(["notes"]);
    expect(steps[6]?.reply.error?.message).toBe("the person denied notes's last transfer; ask again in 10 s");
  });

  it("fails an approved transfer whose receiver stopped meanwhile, and says so", () => {
    expect(steps[7]?.records.map((r) => r.event)).toEqual(["courier.requested", "courier.approved", "courier.failed"]);
    expect(steps[7]?.records.at(-1)).toMatchObject({
      to: "shell",
      into: "inbox",
      reason: "shell is no longer running",
    });
    expect(steps[7]?.reply.error?.message).toBe("not delivered: shell is no longer running");
  });
});
