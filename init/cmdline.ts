import { z } from "zod";
import { nameSchema } from "../policies/schema.ts";

const watchdogSec = z.coerce
  .number({ error: "must be a whole number of seconds" })
  .int("must be a whole number of seconds")
  .min(2, "must be at least 2 seconds")
  .max(600, "must be at most 600 seconds");

const runPath = z
  .string()
  .regex(/^\/[^\0]*$/, "must be an absolute path")
  .refine((p) => !p.split("/").includes(".."), "must not contain '..'");

const roomList = z
  .string()
  .transform((s) => (s === "" ? [] : s.split(",")))
  .refine((names) => names.every((n) => nameSchema.safeParse(n).success), "must be room names separated by commas");

/** preinit's pin of the system image (uki/cmdline.ts): bay0 only reports which image it runs from. */
const systemPin = z
  .string()
  .regex(
    /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12},\d+,[0-9a-f]{64},[0-9a-f]{64}$/,
    "must be PARTUUID,DATA_BLOCKS,ROOT_HASH,SALT",
  );

export type BootOptions = {
  watchdogSec: number;
  /** The root hash of the system image preinit mapped; null on a boot without one (the stock kernel). */
  system: string | null;
  run: string | null;
  /** Rooms to start at boot; null: the image's /etc/anchor/autostart decides. */
  autostart: string[] | null;
};

export const DEFAULT_BOOT_OPTIONS: BootOptions = { watchdogSec: 30, system: null, run: null, autostart: null };

export type CmdlineProblem = { option: string; value: string; reason: string };

const reasonOf = (error: z.ZodError): string => error.issues.map((i) => i.message).join("; ");

/** An option's handler: stores its validated value, or returns why it refused it. */
const option =
  <T>(schema: z.ZodType<T>, store: (into: BootOptions, value: T) => void) =>
  (value: string, into: BootOptions): string | null => {
    const parsed = schema.safeParse(value);
    if (!parsed.success) return reasonOf(parsed.error);
    store(into, parsed.data);
    return null;
  };

/**
 * The `anchor.*` kernel command-line options bay0 understands. They are a
 * public interface: documented in README.md, changed only with a migration note.
 */
const OPTIONS: Record<string, (value: string, into: BootOptions) => string | null> = {
  watchdog_sec: option(watchdogSec, (into, seconds) => void (into.watchdogSec = seconds)),
  system: option(systemPin, (into, pin) => void (into.system = pin.split(",")[2] ?? null)),
  run: option(runPath, (into, path) => void (into.run = path)),
  autostart: option(roomList, (into, names) => void (into.autostart = names)),
};

/** Splits a kernel command line into words, honouring double quotes like the kernel. */
export function splitCmdline(text: string): string[] {
  // A word runs to whitespace outside quotes; a quote left open runs to the end.
  return (text.match(/(?:[^\s"]+|"[^"]*"?)+/g) ?? []).map((word) => word.replaceAll('"', ""));
}

/**
 * Parses the `anchor.*` options of a kernel command line. Never throws: every
 * bad or unknown option becomes a problem naming it, and its default is kept.
 */
export function parseCmdline(text: string): { options: BootOptions; problems: CmdlineProblem[] } {
  const options: BootOptions = { ...DEFAULT_BOOT_OPTIONS };
  const problems: CmdlineProblem[] = [];
  for (const word of splitCmdline(text)) {
    if (!word.startsWith("anchor.")) continue;
    const eq = word.indexOf("=");
    const name = (eq < 0 ? word : word.slice(0, eq)).slice("anchor.".length);
    const value = eq < 0 ? "" : word.slice(eq + 1);
    const option = `anchor.${name}`;
    const apply = Object.hasOwn(OPTIONS, name) ? OPTIONS[name] : undefined;
    const reason =
      apply === undefined ? "unknown option" : eq < 0 ? "needs a value (name=value)" : apply(value, options);
    if (reason !== null) problems.push({ option, value, reason });
  }
  return { options, problems };
}
