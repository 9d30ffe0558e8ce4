import { readFileSync } from "node:fs";

/** A small file's text (/proc, /sys, /etc), or null when it cannot be read. */
export function readTextOrNull(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

/** A small file's bytes (an EFI variable), or null when it cannot be read. */
export function readBytesOrNull(path: string): Uint8Array | null {
  try {
    return readFileSync(path);
  } catch {
    return null;
  }
}

/** A text's JSON value, or null when it is not JSON (the caller's schema says what is valid). */
export function parseJsonOrNull(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

/** A JSON file's value, or null when it is missing or not JSON. */
export function readJsonOrNull(path: string): unknown {
  const text = readTextOrNull(path);
  return text === null ? null : parseJsonOrNull(text);
}
