import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { pathComponents } from "../../../sys/room-files.ts";
import { inBun } from "../../qemu/in-bun.ts";
import { ROOT } from "../../qemu/paths.ts";

/** Each case starts a Bun process or three; a loaded host (VMs beside it) takes seconds for each. */
const BUN_CASE_MS = 60_000;

/**
 * openRoomFile against a real room-like tree with the real openat2 (bun:ffi,
 * so in a Bun process of its own); the reader is the room's user, uid 1000.
 */
function openAll(root: string, paths: string[]): string[] {
  const script = `
    import { openHelperLibc } from ${JSON.stringify(join(ROOT, "sys", "libc-helper.ts"))};
    import { openRoomFile } from ${JSON.stringify(join(ROOT, "sys", "room-files.ts"))};
    import { closeSync, readFileSync } from "node:fs";
    const libc = openHelperLibc();
    for (const path of ${JSON.stringify(paths)}) {
      const opened = openRoomFile(libc, ${JSON.stringify(root)}, path, { uid: 1000, gid: 1000 });
      if (opened.ok) {
        console.log("ok " + readFileSync("/proc/self/fd/" + opened.fd, "utf8").trim());
        closeSync(opened.fd);
      } else console.log("refused " + opened.reason);
    }`;
  return inBun(script).split("\n");
}

/** openInbox against `place` with the real openat2: "ok" and what it made, or why it refused. */
function inbox(
  place: { kind: "room"; rootDir: string } | { kind: "vault"; folder: string; stagingDir: string },
): string {
  const script = `
    import { openHelperLibc } from ${JSON.stringify(join(ROOT, "sys", "libc-helper.ts"))};
    import { closeInbox, openInbox } from ${JSON.stringify(join(ROOT, "sys", "room-files.ts"))};
    try {
      const opened = openInbox(openHelperLibc(), ${JSON.stringify(place)}, { uid: 1000, gid: 1000 }, "stage");
      closeInbox(opened);
      console.log("ok");
    } catch (error) {
      console.log("refused " + (error instanceof Error ? error.message : String(error)));
    }`;
  return inBun(script);
}

describe("pathComponents", () => {
  it("drops empty and '.' components and takes '..' lexically, never above the root", () => {
    expect(pathComponents("/tmp//./a/../b.txt")).toEqual(["tmp", "b.txt"]);
    expect(pathComponents("../../../../etc/passwd")).toEqual(["etc", "passwd"]);
    expect(pathComponents("/")).toEqual([]);
  });
});

describe("openRoomFile", () => {
  const root = mkdtempSync(join(tmpdir(), "anchor-room-files-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, "tmp"));
  mkdirSync(join(root, "etc"));
  mkdirSync(join(root, "private"), { mode: 0o700 });
  chmodSync(join(root, "private"), 0o700);
  writeFileSync(join(root, "tmp", "report.txt"), "quarterly\n", { mode: 0o644 });
  writeFileSync(join(root, "etc", "passwd"), "the room's own passwd\n", { mode: 0o644 });
  writeFileSync(join(root, "private", "plans.txt"), "plans\n", { mode: 0o644 });
  writeFileSync(join(root, "tmp", "mine.txt"), "mine\n", { mode: 0o600 });
  chownSync(join(root, "tmp", "mine.txt"), 1000, 1000);
  writeFileSync(join(root, "tmp", "theirs.txt"), "theirs\n", { mode: 0o600 });
  symlinkSync("/etc", join(root, "tmp", "etc-link"));
  symlinkSync("/etc/shadow", join(root, "tmp", "shadow-link"));

  it(
    "opens what the room's user could read, and only that, as the user would walk to it",
    { timeout: BUN_CASE_MS },
    () => {
      expect(
        openAll(root, ["/tmp/report.txt", "tmp/mine.txt", "/tmp/../tmp/./report.txt", "../../../../etc/passwd"]),
      ).toEqual(["ok quarterly", "ok mine", "ok quarterly", "ok the room's own passwd"]);
    },
  );

  it(
    "refuses a file in a directory the user may not enter, a file it may not read, and every link on the way",
    { timeout: BUN_CASE_MS },
    () => {
      expect(
        openAll(root, [
          "/private/plans.txt",
          "/tmp/theirs.txt",
          "/tmp/etc-link/passwd",
          "/tmp/shadow-link",
          "/proc/self/root/etc/passwd",
          "/tmp",
          "/nothing",
        ]),
      ).toEqual([
        "refused /private/plans.txt is in a directory the room's user may not enter",
        "refused /tmp/theirs.txt is not readable by the room's user",
        "refused a link is in the path (send the file by its own path)",
        "refused /tmp/shadow-link is a symlink; only a regular file can be sent",
        "refused no such file in the room",
        "refused /tmp is a directory; only a regular file can be sent",
        "refused no such file in the room",
      ]);
    },
  );
});

describe("openInbox", () => {
  const base = mkdtempSync(join(tmpdir(), "anchor-inbox-"));
  afterAll(() => rmSync(base, { recursive: true, force: true }));
  const outside = join(base, "outside");
  mkdirSync(outside);

  it("makes a receiving room's /inbox, and refuses one the room replaced with a link", { timeout: BUN_CASE_MS }, () => {
    const good = join(base, "good");
    mkdirSync(join(good, "proc"), { recursive: true });
    expect(inbox({ kind: "room", rootDir: good })).toBe("ok");
    const linked = join(base, "linked");
    mkdirSync(join(linked, "proc"), { recursive: true });
    // A link to one of the room's own directories: followed inside the root, it would still let the room choose where files land.
    mkdirSync(join(linked, "etc"));
    symlinkSync("/etc", join(linked, "inbox"));
    expect(inbox({ kind: "room", rootDir: linked })).toMatch(
      /^refused the room's \/inbox is not a directory of its own/,
    );
  });

  it(
    "refuses a vault folder swapped for a link, whichever component the room swapped",
    { timeout: BUN_CASE_MS },
    () => {
      const rooms = join(base, "persist", "rooms");
      mkdirSync(join(rooms, "work", "drafts"), { recursive: true });
      const stagingDir = join(base, "persist", ".staging");
      expect(inbox({ kind: "vault", folder: join(rooms, "work", "drafts"), stagingDir })).toBe("ok");
      rmSync(join(rooms, "work", "drafts"), { recursive: true });
      symlinkSync(outside, join(rooms, "work", "drafts"));
      expect(inbox({ kind: "vault", folder: join(rooms, "work", "drafts"), stagingDir })).toMatch(
        /^refused the vault folder is not a plain directory/,
      );
      rmSync(join(rooms, "work"), { recursive: true });
      symlinkSync(outside, join(rooms, "work"));
      mkdirSync(join(outside, "drafts"));
      expect(inbox({ kind: "vault", folder: join(rooms, "work", "drafts"), stagingDir })).toMatch(
        /^refused the vault folder is not a plain directory/,
      );
    },
  );
});
