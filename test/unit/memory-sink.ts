import type { LogRecord, Sink } from "../../sys/log.ts";

/** A log sink that collects records in memory, for tests to read. */
export function memorySink(records: LogRecord[]): Sink {
  return (_line, record) => {
    records.push(record);
  };
}
