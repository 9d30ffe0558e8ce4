import { mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { inBun } from "../../qemu/in-bun.ts";
import { ROOT } from "../../qemu/paths.ts";

/** Each case starts a Bun process; a loaded host takes seconds for it. */
const BUN_CASE_MS = 60_000;

/**
 * bindVaultFolder with the real openat2 (bun:ffi, in a Bun process of its
 * own); the bind mount itself is recorded, not made: what it would bind
 * (the directory behind the /proc/self/fd path it is given) and where.
 */
function bind(roomsDir: string, folder: string): string {
  const script = `
    import { openHelperLibc } from ${JSON.stringify(join(ROOT, "sys", "libc-helper.ts"))};
    import { bindVaultFolder } from ${JSON.stringify(join(ROOT, "sys", "vault-folders.ts"))};
    import { readlinkSync } from "node:fs";
    const libc = openHelperLibc();
    const recording = { ...libc, mount: (source, target) => {
      console.log("bind " + readlinkSync(source) + " at " + target);
      return { ok: true, value: 0 };
    } };
    const refused = bindVaultFolder(recording, ${JSON.stringify(roomsDir)}, ${JSON.stringify(folder)}, { uid: 1000, gid: 1001 }, ${JSON.stringify(join(roomsDir, "..", "target"))});
    if (refused !== null) console.log("refused " + refused);`;
  return inBun(script);
}

describe("bindVaultFolder", () => {
  const persist = mkdtempSync(join(tmpdir(), "anchor-vault-folders-"));
  const rooms = join(persist, "rooms");
  afterAll(() => rmSync(persist, { recursive: true, force: true }));

  it(
    "makes each component on first use, owned by the room's user and private, and binds the last",
    () => {
      expect(bind(rooms, "docs/notes")).toBe(`bind ${join(rooms, "docs", "notes")} at ${join(persist, "target")}`);
      for (const dir of [join(rooms, "docs"), join(rooms, "docs", "notes")]) {
        const made = statSync(dir);
        expect([made.uid, made.gid, made.mode & 0o777]).toEqual([1000, 1001, 0o700]);
      }
    },
    BUN_CASE_MS,
  );

  it(
    "leaves a folder that exists as it is",
    () => {
      mkdirSync(join(rooms, "kept"), { mode: 0o750 });
      expect(bind(rooms, "kept")).toMatch(/^bind /);
      const kept = statSync(join(rooms, "kept"));
      expect([kept.uid, kept.mode & 0o777]).toEqual([0, 0o750]);
    },
    BUN_CASE_MS,
  );

  it(
    "never follows a link a room planted, at the end or on the way",
    () => {
      mkdirSync(join(persist, "elsewhere"));
      symlinkSync(join(persist, "elsewhere"), join(rooms, "docs", "planted"));
      expect(bind(rooms, "docs/planted")).toMatch(/^refused the vault folder docs\/planted is not a plain directory/);
      // Even one that stays inside: a room could swap its folder for a link to a sibling's.
      symlinkSync("notes", join(rooms, "docs", "alias"));
      expect(bind(rooms, "docs/alias")).toMatch(/^refused the vault folder docs\/alias is not a plain directory/);
      symlinkSync("/etc", join(rooms, "hop"));
      expect(bind(rooms, "hop/ssl")).toMatch(/^refused the vault folder hop\/ssl is not a plain directory/);
    },
    BUN_CASE_MS,
  );
});
