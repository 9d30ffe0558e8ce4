/**
 * Splits a byte stream into text lines. A line longer than `maxLength` is cut
 * into pieces so a child cannot make bay0 buffer without bound.
 */
export function createLineSplitter(onLine: (line: string) => void, maxLength = 4096) {
  const decoder = new TextDecoder();
  let pending = "";
  const drain = (final: boolean): void => {
    let newline = pending.indexOf("\n");
    while (newline >= 0) {
      emit(pending.slice(0, newline));
      pending = pending.slice(newline + 1);
      newline = pending.indexOf("\n");
    }
    while (pending.length > maxLength) {
      emit(pending.slice(0, maxLength));
      pending = pending.slice(maxLength);
    }
    if (final && pending.length > 0) {
      emit(pending);
      pending = "";
    }
  };
  const emit = (line: string): void => {
    for (let i = 0; i < Math.max(line.length, 1); i += maxLength)
      onLine(line.slice(i, i + maxLength).replace(/\r$/, ""));
  };
  return {
    push(chunk: Uint8Array): void {
      pending += decoder.decode(chunk, { stream: true });
      drain(false);
    },
    end(): void {
      pending += decoder.decode();
      drain(true);
    },
  };
}
