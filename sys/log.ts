import { createHash } from "node:crypto";
import { constants, openSync, writeSync } from "node:fs";

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

/**
 * JSON on one line in printable ASCII only. JSON.stringify escapes just the
 * C0 controls; a room's text may also hold C1 controls (U+009B is a CSI),
 * DEL or bidi overrides that an operator's terminal would obey. Outside
 * string literals JSON.stringify writes only ASCII, so escaping every other
 * character as \uXXXX keeps the document equal.
 */
export function asciiJson(value: unknown): string {
  const json = JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
  return json.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** Room-supplied text kept whole in a record: enough to read a path or a reason. */
const ROOM_TEXT_CHARS = 96;

/**
 * Text a room chose (a path it asked for, a reason quoting it), as bay0 logs
 * and so audits it: itself when short and printable, else its start, its
 * length and a digest that still tells two apart. A refused request then
 * costs the log a line, not the kilobytes the room sent.
 */
export function roomText(text: string): string {
  if (text.length <= ROOM_TEXT_CHARS && /^[\x20-\x7e]*$/.test(text)) return text;
  const start = text.slice(0, ROOM_TEXT_CHARS / 2).replace(/[^\x20-\x7e]/g, "?");
  return `${start}... (${text.length} characters, sha256 ${createHash("sha256").update(text).digest("hex").slice(0, 16)})`;
}

/** One record is one JSON object on one line; a failing sink never throws. */
export function createLog(sinks: Sink[], now: () => Date = () => new Date()): Log {
  const emit = (level: Level, event: string, fields: Fields = {}): void => {
    const record: LogRecord = { ...fields, ts: now().toISOString(), level, event };
    const line = asciiJson(record);
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

/** Writes what it can without waiting: the number of bytes taken, or "again" when the device is full. */
export type WriteNow = (bytes: Uint8Array) => number | "again";

export type QueuedSinkOptions = {
  /** Names the sink in its `log.dropped` records. */
  name: string;
  write: WriteNow;
  /** Bytes held while the device is full; beyond them whole records are dropped and counted. */
  capacityBytes: number;
  /** Calls fn again later (the event loop's timer). */
  later: (fn: () => void) => void;
  now?: () => Date;
};

/**
 * A sink that never blocks bay0: lines go out as fast as the device takes
 * them, wait in a bounded queue while it is full, and are dropped (and
 * counted, in one `log.dropped` record once the device drains) beyond that.
 * A slow or stuck serial line can then cost log lines, never the watchdog.
 */
export function queuedSink(options: QueuedSinkOptions): Sink {
  const now = options.now ?? (() => new Date());
  const queue: Uint8Array[] = [];
  let queued = 0;
  let dropped = 0;
  let scheduled = false;
  const encoder = new TextEncoder();

  const pump = (): void => {
    scheduled = false;
    while (queue.length > 0) {
      const head = queue[0] as Uint8Array;
      let taken: number | "again";
      try {
        taken = options.write(head);
      } catch {
        taken = head.length; // the device refused this record for good: count it lost, go on
        dropped += 1;
      }
      if (taken === "again") break;
      queued -= taken;
      if (taken >= head.length) queue.shift();
      else queue[0] = head.subarray(taken);
      if (queue.length === 0 && dropped > 0) {
        const notice = asciiJson({
          ts: now().toISOString(),
          level: "warn",
          event: "log.dropped",
          sink: options.name,
          records: dropped,
        });
        dropped = 0;
        const bytes = encoder.encode(`${notice}\n`);
        queue.push(bytes);
        queued += bytes.length;
      }
    }
    if (queue.length > 0 && !scheduled) {
      scheduled = true;
      options.later(pump);
    }
  };

  return (line) => {
    const bytes = encoder.encode(`${line}\n`);
    if (queued + bytes.length > options.capacityBytes) {
      dropped += 1;
      return;
    }
    queue.push(bytes);
    queued += bytes.length;
    if (!scheduled) pump();
  };
}

/** A non-blocking writer for a device opened with O_NONBLOCK: EAGAIN means "full, try later". */
export function nonBlockingWriter(fd: number): WriteNow {
  return (bytes) => {
    try {
      return writeSync(fd, bytes);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EAGAIN") return "again";
      throw error;
    }
  };
}

const CONSOLE_QUEUE_BYTES = 64 * 1024;
const CONSOLE_RETRY_MS = 20;

/**
 * The system console (the serial port on our targets), opened non-blocking:
 * at 115200 baud, or with nobody reading the line, a blocking write would
 * stall PID 1's event loop until the watchdog resets the machine.
 */
export function consoleSink(path = "/dev/console"): Sink {
  const fd = openSync(path, constants.O_WRONLY | constants.O_NOCTTY | constants.O_NONBLOCK);
  return queuedSink({
    name: "console",
    write: nonBlockingWriter(fd),
    capacityBytes: CONSOLE_QUEUE_BYTES,
    later: (fn) => setTimeout(fn, CONSOLE_RETRY_MS),
  });
}

/**
 * Syslog priorities in /dev/kmsg, one step milder than the record's level so
 * that none reaches a console at loglevel=4: the console already has them.
 */
const KMSG_PRIORITY: Record<Level, number> = { debug: 7, info: 6, warn: 5, error: 4 };

/** The kernel refuses a /dev/kmsg write longer than LOG_LINE_MAX (976 bytes with CONFIG_PRINTK_CALLER). */
export const KMSG_MAX_BYTES = 976;

/** One /dev/kmsg write for a record: cut to the kernel's limit, saying so, rather than refused whole. */
export function kmsgLine(line: string, level: Level): string {
  const full = `<${KMSG_PRIORITY[level]}>bay0: ${line}\n`;
  if (full.length <= KMSG_MAX_BYTES) return full;
  const marker = ` ...[cut: ${line.length} bytes in all, the console has the whole record]\n`;
  return `${full.slice(0, KMSG_MAX_BYTES - marker.length)}${marker}`;
}

/** Writes each line to /dev/kmsg, so `dmesg` shows bay0's records among the kernel's. */
export function kmsgSink(path = "/dev/kmsg"): Sink {
  const fd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
  return (line, record) => {
    writeSync(fd, kmsgLine(line, record.level));
  };
}

/** A sink whose target is attached later (a consumer that starts after the log). */
export function relaySink(): { sink: Sink; attach(target: (record: LogRecord) => void): void } {
  let target: ((record: LogRecord) => void) | null = null;
  return {
    sink: (_line, record) => target?.(record),
    attach: (t) => {
      target = t;
    },
  };
}
