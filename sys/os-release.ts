/** One field of an os-release file (os-release(5)): its value, unquoted, or null. */
export function osReleaseField(text: string, key: string): string | null {
  const line = text.split("\n").find((l) => l.startsWith(`${key}=`));
  return line === undefined ? null : line.slice(key.length + 1).replace(/^"(.*)"$/, "$1");
}
