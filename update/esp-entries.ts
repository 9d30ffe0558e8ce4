/**
 * The UKIs on the ESP as systemd-boot counts them (its Boot Loader
 * Specification's boot counting): `EFI/Linux/anchor_X.Y.Z.efi` is a good
 * version, `anchor_X.Y.Z+L-D.efi` one on trial with L tries left and D
 * done (the loader renames it before each try; at +0 it boots it only after
 * every other). What an update, a blessing and a boot after a rollback do
 * with those names is decided here.
 */
import { z } from "zod";
import { IMAGE_VERSION } from "./bundle.ts";

/** Where the UKIs live on the ESP, as systemd-boot finds them. */
export const ENTRIES_DIR = "EFI/Linux";
/** How many times a new version is tried before the loader falls back by itself. */
export const TRIES = 3;
/** A UKI being written: not `.efi`, so the loader never sees it. */
export const PARTIAL_SUFFIX = ".tmp";
/**
 * Written before an install touches the other slot and removed once its UKI
 * is in place: found at boot, the install was cut short.
 */
export const INSTALLING_MARK = "anchor-installing.json";

export type Entry = { file: string; version: string; left: number | null; done: number | null };

const ENTRY = /^anchor_(\d{1,5}\.\d{1,5}\.\d{1,5})(?:\+(\d{1,2})(?:-(\d{1,2}))?)?\.efi$/;

/** The file's version and counters, or null when it is not one of ours. */
export function parseEntry(file: string): Entry | null {
  const match = ENTRY.exec(file);
  if (match === null) return null;
  const count = (text: string | undefined): number | null => (text === undefined ? null : Number(text));
  return { file, version: match[1] ?? "", left: count(match[2]), done: count(match[3]) };
}

/** A new version's entry, with its tries; a blessed one's without. */
export const entryFile = (version: string, tries: number | null = null): string =>
  `anchor_${version}${tries === null ? "" : `+${tries}`}.efi`;

/** Negative, zero or positive as version `a` is older than, the same as or newer than `b` (both X.Y.Z). */
export function compareVersions(a: string, b: string): number {
  if (!IMAGE_VERSION.test(a) || !IMAGE_VERSION.test(b)) throw new Error(`not X.Y.Z: ${a} or ${b}`);
  const [pa, pb] = [a, b].map((v) => v.split(".").map(Number));
  for (let i = 0; i < 3; i++) {
    const d = (pa?.[i] ?? 0) - (pb?.[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * The entry a trial boot runs from, as the loader names it in
 * LoaderBootCountPath (`\EFI\Linux\anchor_X.Y.Z+L-D.efi`), and the name it
 * gets once blessed; null when the path is not one of ours.
 */
export function blessing(countPath: string): { from: string; to: string } | null {
  const prefix = `\\${ENTRIES_DIR.replaceAll("/", "\\")}\\`;
  if (!countPath.startsWith(prefix)) return null;
  const entry = parseEntry(countPath.slice(prefix.length));
  return entry === null || entry.left === null ? null : { from: entry.file, to: entryFile(entry.version) };
}

/**
 * A UKI being written: `anchor_X.Y.Z.NONCE.tmp`, a name no earlier install
 * used, so a name a torn rename left behind is never written again.
 */
export const partialFile = (version: string, nonce: string): string => `anchor_${version}.${nonce}${PARTIAL_SUFFIX}`;

/** The version a half-written UKI was to be, or null. */
const partialVersion = (file: string): string | null =>
  /^anchor_(\d{1,5}\.\d{1,5}\.\d{1,5})\.[0-9a-f]{8}\.tmp$/.exec(file)?.[1] ?? null;

/**
 * What a boot that is not a trial finds on the ESP: entries of a newer
 * version whose tries ran out (the loader fell back from it: it was rolled
 * back); UKIs left half-written by an install cut short (`partial`, to
 * delete); and half-written names beside an entry of their version
 * (`twins`, kept: a rename FAT tore may have left both names on the same
 * clusters, and deleting one would free the other's).
 */
export function leftovers(
  files: string[],
  running: string,
): { rolledBack: Entry[]; partial: string[]; twins: string[] } {
  const entries = files.map(parseEntry).filter((e): e is Entry => e !== null);
  const rolledBack = entries.filter((e) => e.left === 0 && compareVersions(e.version, running) > 0);
  const temporary = files.filter((f) => partialVersion(f) !== null);
  const twinned = (f: string): boolean => entries.some((e) => e.version === partialVersion(f));
  return { rolledBack, partial: temporary.filter((f) => !twinned(f)), twins: temporary.filter(twinned) };
}

/**
 * Whether an entry other than the running version's is on the ESP: then it
 * may pin the other slot (the fallback, or an install that finished), which
 * must not be cleared.
 */
export const otherVersionPinned = (files: string[], running: string): boolean =>
  files.some((f) => {
    const entry = parseEntry(f);
    return entry !== null && entry.version !== running;
  });

/**
 * The entries an install of a new version removes first: every one but the
 * running version's (the last known good, and any twin a torn rename left
 * of it), so the ESP holds the running version and the one being
 * installed, and no UKI is left that pins the slot about to be overwritten.
 */
export const replacedBy = (files: string[], running: string): string[] =>
  files.filter((f) => {
    const entry = parseEntry(f);
    return entry !== null && entry.version !== running;
  });

/** The versions this machine rolled back, so a headless one does not install them again at every boot. */
export const ROLLED_BACK_FILE = "anchor-rolled-back.json";
const ROLLED_BACK_KEPT = 8;
const rolledBackSchema = z
  .object({ versions: z.array(z.string().regex(IMAGE_VERSION)).max(ROLLED_BACK_KEPT) })
  .strict();

/** The rolled-back versions the file names (none when it is missing or not ours). */
export function rolledBackVersions(text: string | null): string[] {
  if (text === null) return [];
  try {
    const parsed = rolledBackSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data.versions : [];
  } catch {
    return [];
  }
}

/** The file's text with `version` added (the newest kept). */
export const withRolledBack = (text: string | null, version: string): string =>
  JSON.stringify({
    versions: [...rolledBackVersions(text).filter((v) => v !== version), version].slice(-ROLLED_BACK_KEPT),
  });
