import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { pathComponents } from "../../../sys/room-files.ts";
import { ROOT } from "../../qemu/paths.ts";

/**
 * openRoomFile against a real room-like tree with the real openat2 (bun:ffi,
 * so in a Bun process of its own); the reader is the room's user, uid 1000.
 */
function openAll(root: string, paths: string[]): string[] {
  const script = `
    import { openLibc } from ${JSON.stringify(join(ROOT, "sys", "libc-ffi.ts"))};
    import { openRoomFile } from ${JSON.stringify(join(ROOT, "sys", "room-files.ts"))};
    import { closeSync, readFileSync } from "node:fs";
    const libc = openLibc();
    for (const path of ${JSON.stringify(paths)}) {
      const opened = openRoomFile(libc, ${JSON.stringify(root)}, path, { uid: 1000, gid: 1000 });
      if (opened.ok) {
        console.log("ok " + readFileSync("/proc/self/fd/" + opened.fd, "utf8").trim());
        closeSync(opened.fd);
      } else console.log("refused " + opened.reason);
    }`;
  const run = spawnSync("npx", ["bun", "-e", script], { encoding: "utf8", cwd: ROOT });
  if (run.status !== 0) throw new Error(run.stderr);
  return run.stdout.trim().split("\n");
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

  it("opens what the room's user could read, and only that, as the user would walk to it", () => {
    expect(openAll(root, ["/tmp/report.txt", "tmp/mine.txt", "/tmp/../tmp/./report.txt", "../../../../etc/passwd"])).toEqual([
      "ok quarterly",
      "ok mine",
      "ok quarterly",
      "ok the room's own passwd",
    ]);
  });

  it("refuses a file in a directory the user may not enter, a file it may not read, and every link on the way", () => {
    expect(openAll(root, ["/private/plans.txt", "/tmp/theirs.txt", "/tmp/etc-link/passwd", "/tmp/shadow-link", "/proc/self/root/etc/passwd", "/tmp", "/nothing"])).toEqual([
      "refused /private/plans.txt is in a directory the room's user may not enter",
      "refused /tmp/theirs.txt is not readable by the room's user",
      "refused a link is in the path (send the file by its own path)",
      "refused /tmp/shadow-link is a symlink; only a regular file can be sent",
      "refused no such file in the room",
      "refused /tmp is a directory; only a regular file can be sent",
      "refused no such file in the room",
    ]);
  });
});
