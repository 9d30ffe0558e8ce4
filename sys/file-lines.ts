/**
 * A file's lines, read a chunk at a time: the reader holds one line, never
 * the whole file (the vault helper checks every earlier boot's audit file,
 * whatever whoever holds the vault's key left there). Lines are split on
 * "\n" alone and kept byte for byte, as a hash chain over them needs; a
 * last line without its newline is a line too.
 */
import { readSync } from "node:fs";

const CHUNK_BYTES = 1024 * 1024;

/** The lines of the open file `fd` from its current offset; throws on a line longer than `maxLineBytes`, which would otherwise be held whole. */
export function* linesOfFile(fd: number, maxLineBytes: number): Generator<string> {
  const tooLong = (): Error => new Error(`a line longer than ${maxLineBytes} bytes`);
  const chunk = Buffer.alloc(CHUNK_BYTES);
  let pending = Buffer.alloc(0);
  for (let read = readSync(fd, chunk); read > 0; read = readSync(fd, chunk)) {
    // Only a line cut by the chunk's end is copied out: the chunk is read into again.
    const data = pending.length === 0 ? chunk.subarray(0, read) : Buffer.concat([pending, chunk.subarray(0, read)]);
    let start = 0;
    for (let end = data.indexOf(0x0a); end !== -1; end = data.indexOf(0x0a, start)) {
      if (end - start > maxLineBytes) throw tooLong();
      yield data.toString("utf8", start, end);
      start = end + 1;
    }
    if (data.length - start > maxLineBytes) throw tooLong();
    pending = Buffer.from(data.subarray(start));
  }
  if (pending.length > 0) yield pending.toString("utf8");
}
