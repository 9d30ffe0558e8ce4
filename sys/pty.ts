import { writeSync } from "node:fs";
import type { HelperLibc } from "./libc-helper.ts";

/**
 * A room terminal's pseudo-terminal master, as bay0 uses it: the fd is
 * non-blocking (the supervisor set it so), read through Bun.file().stream()
 * (which holds no thread-pool thread while waiting), written without ever
 * waiting: a room that stops reading its terminal loses keystrokes, and
 * bay0 never stalls on it.
 */
export function ptyIo(libc: HelperLibc) {
  return {
    async read(fd: number, onChunk: (chunk: Uint8Array) => Promise<void>): Promise<void> {
      for await (const chunk of Bun.file(fd).stream()) await onChunk(chunk);
    },
    write(fd: number, text: string): void {
      try {
        writeSync(fd, text);
      } catch {
        // EAGAIN (the room is not reading) or EIO (it is gone): dropped, by design.
      }
    },
    resize(fd: number, rows: number, cols: number): void {
      libc.setWindowSize(fd, rows, cols);
    },
    close(fd: number): void {
      libc.close(fd);
    },
    sleep: (ms: number): Promise<void> => Bun.sleep(ms),
  };
}
