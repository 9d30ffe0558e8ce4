import { openSync, writeSync } from "node:fs";

export type Level = "debug" | "info" | "warn" | "error";
export type Fields = Record<string, unknown>;
export type LogRecord = { ts: string; level: Level; event: string } & Fields;

/** Where finished JSON lines go (console, /dev/kmsg, a test array). */
export type Sink = (line: string, record: LogRecord) => void;

export interface Log {
  debug(event: string, fields?: Fields): void;
  info(event: string, fields?: Fields): void;
  warn(event: string, fields?: Fields): void;
  error(event: string, fields?: Fields): void;
}

/** One record is one JSON object on one line; a failing sink never throws. */
export function createLog(sinks: Sink[], now: () => Date = () => new Date()): Log {
  const emit = (level: Level, event: string, fields: Fields = {}): void => {
    const record: LogRecord = { ...fields, ts: now().toISOString(), level, event };
    const line = JSON.stringify(record, (_key, value: unknown) =>
      typeof value === "bigint" ? value.toString() : value,
    );
    for (const sink of sinks) {
      try {
        sink(line, record);
      } catch {
        // A broken sink (console gone at shutdown) must not take bay0 down.
      }
    }
  };
  return {
    debug: (event, fields) => emit("debug", event, fields),
    info: (event, fields) => emit("info", event, fields),
    warn: (event, fields) => emit("warn", event, fields),
    error: (event, fields) => emit("error", event, fields),
  };
}

/** Writes each line to a file descriptor (bay0's stdout is the console). */
export function fdSink(fd: number): Sink {
  return (line) => {
    writeSync(fd, `${line}\n`);
  };
}

/**
 * Syslog priorities in /dev/kmsg, one step milder than the record's level so
 * that none reaches a console at loglevel=4: the console already has them.
 */
const KMSG_PRIORITY: Record<Level, number> = { debug: 7, info: 6, warn: 5, error: 4 };

/** Writes each line to /dev/kmsg, so `dmesg` shows bay0's records among the kernel's. */
export function kmsgSink(path = "/dev/kmsg"): Sink {
  const fd = openSync(path, "w");
  return (line, record) => {
    writeSync(fd, `<${KMSG_PRIORITY[record.level]}>bay0: ${line}\n`);
  };
}

/** Collects records in memory (tests). */
export function memorySink(records: LogRecord[]): Sink {
  return (_line, record) => {
    records.push(record);
  };
}
