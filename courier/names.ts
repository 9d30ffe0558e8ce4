/**
 * What a delivered file is called. The name comes from the sending room, so
 * it is hostile: it is shown on the trusted prompt exactly as it will land,
 * which it can only be if it holds nothing but printable ASCII (no escape
 * sequence, no control or bidirectional character, no look-alike letter).
 */
export const MAX_NAME_CHARS = 48;
const PRINTABLE = /^[\x20-\x7e]+$/;

/** The last component of the path a room asked to send, when it can be shown and delivered as it is. */
export function fileNameOf(path: string): { ok: true; name: string } | { ok: false; reason: string } {
  const name = path.split("/").pop() ?? "";
  if (name === "" || name === "." || name === "..") return { ok: false, reason: "the path names no file" };
  if (!PRINTABLE.test(name)) return { ok: false, reason: "the file name must be printable ASCII (rename it first)" };
  if (name.startsWith(".")) return { ok: false, reason: "hidden files are not sent (rename it first)" };
  if (name !== name.trim()) return { ok: false, reason: "the file name must not begin or end with a space" };
  if (name.length > MAX_NAME_CHARS)
    return { ok: false, reason: `the file name is longer than ${MAX_NAME_CHARS} characters` };
  return { ok: true, name };
}
