/**
 * The update helper: bay0's executable in `update` mode (started by bay0,
 * init/update.ts; root, never PID 1), because a bundle stick, a bundle's
 * bytes and the ESP are hostile or bulky input: whatever goes wrong here
 * dies alone. Two modes:
 *
 * `offer SLOT console|headless` (a boot that is not a trial): first clears
 * what an earlier boot left on the ESP (a version the loader fell back from:
 * `update.rolled_back`; an install cut short: `update.interrupted`), then
 * looks for a disk whose content is a bundle (update/bundle.ts), read as the
 * raw device it is. A bundle both pinned update keys signed, newer than the
 * running version, that fits the other slot, is offered at the console
 * (Deny first, and on timeout) or, headless, installed: the other slot's
 * partitions, streamed and hashed, then the PARTUUID its UKI pins, then the
 * UKI as a trial entry (update/esp-entries.ts), renamed into place last.
 *
 * `bless` (a trial boot bay0 found healthy): the entry the loader is trying
 * loses its counter, so it is this machine's good version from now on.
 */
import { randomBytes, X509Certificate } from "node:crypto";
import { PARTITION, loaderText, type Disk } from "../rooms/boot-disk.ts";
import { findBootDisk, readDisks, readLoaderVariable, type RawDisk } from "../sys/block-devices.ts";
import { openBlockDevice, type BlockDevice } from "../sys/block-io.ts";
import { mountEsp, type Esp } from "../sys/esp.ts";
import { readTextOrNull, parseJsonOrNull } from "../sys/files.ts";
import { openHelperLibc } from "../sys/libc-helper.ts";
import type { Log } from "../sys/log.ts";
import { osReleaseField } from "../sys/os-release.ts";
import { SECURE_BOOT_CERT, UPDATE_KEYS } from "../init/layout.ts";
import { talkToBay0, type Ask } from "../vault/dialog.ts";
import {
  BUNDLE_MAGIC,
  openBundle,
  readParts,
  type BundleHeader,
  type BundlePart,
  type BundleRefusal,
} from "./bundle.ts";
import {
  blessing,
  compareVersions,
  ENTRIES_DIR,
  entryFile,
  INSTALLING_MARK,
  leftovers,
  otherVersionPinned,
  parseEntry,
  partialFile,
  replacedBy,
  ROLLED_BACK_FILE,
  rolledBackVersions,
  TRIES,
  withRolledBack,
} from "./esp-entries.ts";
import { gptHeaderFields, withPartitionGuid } from "./gpt-edit.ts";
import { keyFingerprint, parsePinnedKeys } from "./pinned-keys.ts";
import { parseUpdateArgs, type FromUpdateHelper } from "./protocol.ts";
import { signerProblem } from "./uki-signer.ts";
import { ukiFacts } from "./uki-sections.ts";
import { z } from "zod";

/** Larger UKIs are refused before a byte is read: the helper holds it whole until it checked its signer. */
const UKI_MAX = 256 << 20;
/** What a failed or cut-short install zeroes at the start of the slot's system partition: its squashfs superblock. */
const WIPE_BYTES = 1 << 20;
/** Room the ESP keeps besides the new UKI (FAT's own allocation slack). */
const ESP_SLACK = 1 << 20;
const PROMPT_TIMEOUT_MS = 120_000;

type Slot = "a" | "b";
type Done = Extract<FromUpdateHelper, { done: unknown }>["done"];
const markSchema = z.object({ version: z.string().max(20), slot: z.enum(["a", "b"]) }).strict();

const otherSlot = (slot: Slot): Slot => (slot === "a" ? "b" : "a");
const slotLabels = (slot: Slot) =>
  slot === "a"
    ? { system: PARTITION.systemA.label, images: PARTITION.imagesA.label }
    : { system: PARTITION.systemB.label, images: PARTITION.imagesB.label };
const inEntries = (file: string): string => `${ENTRIES_DIR}/${file}`;

class Refusal extends Error {
  constructor(
    readonly kind: BundleRefusal["kind"] | "downgrade" | "space" | "denied" | "timeout" | "busy" | "rolled_back",
    readonly detail: string,
  ) {
    super(detail);
  }
}

/** The boot disk and its partition labelled `label`; throws when there is none. */
function partition(disk: Disk, label: string): Disk["partitions"][number] {
  const found = disk.partitions.find((p) => p.label === label);
  if (found === undefined) throw new Error(`the boot disk ${disk.name} has no ${label} partition`);
  return found;
}

/** Zeroes the start of a slot's system partition: a slot no UKI pins, now also plainly empty. */
function wipeSystem(device: string): void {
  const target = openBlockDevice(device, true);
  try {
    target.write(0, new Uint8Array(WIPE_BYTES));
    target.sync();
  } finally {
    target.close();
  }
}

/** Gives partition `number` of the disk the PARTUUID `uuid`, in the primary GPT and then the backup. */
function setPartitionUuid(disk: RawDisk, number: number, uuid: string): void {
  const device = openBlockDevice(`/dev/${disk.name}`, true);
  try {
    const sector = disk.sectorSize;
    /** A GPT copy edited, as one write: its header and its entries, adjacent (entries after the primary, before the backup). */
    const edit = (headerLba: bigint): { at: number; bytes: Uint8Array; alternateLba: bigint } => {
      const header = device.read(Number(headerLba) * sector, sector);
      const fields = gptHeaderFields(header);
      if (!fields.ok) throw new Error(`GPT at LBA ${headerLba}: ${fields.error}`);
      const entriesAt = Number(fields.entriesLba) * sector;
      const edited = withPartitionGuid(header, device.read(entriesAt, fields.entriesBytes), number, uuid);
      if (!edited.ok) throw new Error(`GPT at LBA ${headerLba}: ${edited.error}`);
      const headerAt = Number(headerLba) * sector;
      if (entriesAt === headerAt + sector)
        return { at: headerAt, bytes: new Uint8Array([...edited.header, ...edited.entries]), ...fields };
      if (entriesAt + fields.entriesBytes === headerAt)
        return { at: entriesAt, bytes: new Uint8Array([...edited.entries, ...edited.header]), ...fields };
      throw new Error(`GPT at LBA ${headerLba}: its entries are not beside its header`);
    };
    // Both copies checked before either is written; the backup first, so a cut leaves the primary whole.
    const primary = edit(1n);
    const backup = edit(primary.alternateLba);
    for (const copy of [backup, primary]) {
      device.write(copy.at, copy.bytes);
      device.sync();
    }
  } finally {
    device.close();
  }
}

/** Whether an earlier boot left something to clear on the ESP (read with it mounted read-only). */
function leftSomething(esp: Esp, running: string): boolean {
  const files = esp.list(ENTRIES_DIR);
  const { rolledBack, partial } = leftovers(files, running);
  return rolledBack.length > 0 || partial.length > 0 || files.includes(INSTALLING_MARK);
}

const readText = (esp: Esp, file: string): string | null => {
  const bytes = esp.read(inEntries(file), 4096);
  return bytes === null ? null : new TextDecoder().decode(bytes);
};

/**
 * Clears what an earlier boot left: a version the loader fell back from
 * (recorded, so it is not installed again unasked), an install cut short.
 * The other slot is wiped only when no entry but the running version's is
 * left, so nothing can pin it: a mark left by an install cut after its
 * UKI's rename leaves that version (or the fallback) bootable.
 */
function settle(log: Log, esp: Esp, running: string, inactiveSystem: string, inactive: Slot): void {
  const { rolledBack, partial, twins } = leftovers(esp.list(ENTRIES_DIR), running);
  for (const entry of rolledBack) {
    esp.remove(inEntries(entry.file));
    esp.write(
      inEntries(ROLLED_BACK_FILE),
      new TextEncoder().encode(withRolledBack(readText(esp, ROLLED_BACK_FILE), entry.version)),
    );
    log.warn("update.rolled_back", { version: entry.version, entry: entry.file, running });
  }
  const files = esp.list(ENTRIES_DIR);
  if (!files.includes(INSTALLING_MARK) && partial.length === 0) return;
  const mark = markSchema.safeParse(parseJsonOrNull(readText(esp, INSTALLING_MARK) ?? ""));
  for (const file of partial) esp.remove(inEntries(file));
  const cleared = !otherVersionPinned(files, running);
  if (cleared) wipeSystem(inactiveSystem);
  esp.remove(inEntries(INSTALLING_MARK));
  if (cleared || partial.length > 0)
    log.warn("update.interrupted", {
      version: mark.success ? mark.data.version : null,
      slot: cleared ? inactive : null,
      removed: partial,
      kept: twins,
    });
}

/** Why the new UKI must not be installed (the firmware would refuse it, or it is not the bundle's version): null when it may. */
function ukiProblem(uki: Uint8Array, header: BundleHeader): Refusal | null {
  const cert = new X509Certificate(readTextOrNull(SECURE_BOOT_CERT) ?? "").raw;
  const signer = signerProblem(uki, cert);
  if (signer !== null) return new Refusal("signature", `its UKI is ${signer}, which this machine's firmware refuses`);
  const facts = ukiFacts(uki);
  if (facts.version !== header.version)
    return new Refusal("format", `its UKI says version ${facts.version ?? "none"}, the header ${header.version}`);
  return facts.systemPartUuid === null ? new Refusal("format", "its UKI pins no system partition") : null;
}

type Installation = {
  log: Log;
  ask: Ask | null;
  running: string;
  /** Versions this machine rolled back (update/esp-entries.ts). */
  rolledBack: string[];
  inactive: Slot;
  disk: RawDisk;
  bootDisk: Disk;
  espDevice: string;
};

/** The UKI part's bytes as `readParts` gives them, and every part's chunks to `each` (where the slot's writes go). */
function readBundle(
  source: Parameters<typeof readParts>[0],
  opened: Parameters<typeof readParts>[1],
  each: (part: BundlePart, chunk: Uint8Array, offset: number) => void = () => undefined,
): { uki: Uint8Array; problem: Refusal | null } {
  const part = opened.header.parts.find((p) => p.kind === "uki");
  const uki = new Uint8Array(part?.size ?? 0);
  const read = new Map<string, number>();
  const checked = readParts(source, opened, (part, chunk) => {
    const offset = read.get(part.name) ?? 0;
    if (part.kind === "uki") uki.set(chunk, offset);
    each(part, chunk, offset);
    read.set(part.name, offset + chunk.length);
  });
  return { uki, problem: checked.ok ? ukiProblem(uki, opened.header) : new Refusal(checked.kind, checked.reason) };
}

/**
 * Checks the bundle on `stick` whole, offers it and installs it into the
 * inactive slot: throws a Refusal when it does not. Nothing is written
 * before every byte of it checked, so a bundle refused leaves the disk as
 * it was; the writes read it a second time, hashing again (a stick that
 * changes its bytes between the reads is caught, and the slot wiped).
 */
async function install(at: Installation, stick: RawDisk): Promise<void> {
  const { log, inactive } = at;
  const pinned = parsePinnedKeys(readTextOrNull(UPDATE_KEYS) ?? "");
  if (!pinned.ok) throw new Refusal("signature", `this image pins no update keys (${UPDATE_KEYS}: ${pinned.reason})`);
  const device = openBlockDevice(`/dev/${stick.name}`, false);
  const source = { size: device.size, read: (offset: number, length: number) => device.read(offset, length) };
  try {
    const opened = openBundle(source, pinned.keys, false);
    if (!opened.ok) throw new Refusal(opened.kind, opened.reason);
    const { header } = opened;
    if (compareVersions(header.version, at.running) <= 0)
      throw new Refusal("downgrade", `${header.version} is not newer than the running ${at.running}`);
    const labels = slotLabels(inactive);
    const system = partition(at.bootDisk, labels.system);
    const images = partition(at.bootDisk, labels.images);
    const sizeOf = (p: { firstLba: bigint; lastLba: bigint }): number =>
      Number(p.lastLba - p.firstLba + 1n) * at.disk.sectorSize;
    const uki = header.parts.find((p) => p.kind === "uki");
    if (uki === undefined || uki.size > UKI_MAX) throw new Refusal("format", `its UKI is over ${UKI_MAX} bytes`);
    for (const part of header.parts) {
      const end = part.kind === "image" ? (part.slot_offset ?? 0) + part.size : part.size;
      const room = part.kind === "system" ? sizeOf(system) : part.kind === "image" ? sizeOf(images) : Infinity;
      if (end > room) throw new Refusal("space", `part ${part.name} needs ${end} bytes; slot ${inactive} has ${room}`);
    }
    const checked = readBundle(source, opened);
    if (checked.problem !== null) throw checked.problem;
    const failedHere = at.rolledBack.includes(header.version);
    if (failedHere && at.ask === null)
      throw new Refusal("rolled_back", `${header.version} was rolled back on this machine before`);
    log.info("update.offered", {
      from: at.running,
      to: header.version,
      source: `disk ${stick.name}`,
      key: keyFingerprint(pinned.keys),
      size: header.size,
    });
    if (at.ask !== null) {
      const answer = await at.ask({
        kind: "choice",
        title: `Update: Anchor OS ${at.running} to ${header.version}`,
        lines: [
          `from:  disk ${stick.name}`,
          `key:   ${keyFingerprint(pinned.keys)}`,
          `size:  ${(header.size / 1048576).toFixed(1)} MiB`,
          `into:  slot ${inactive}; ${at.running} stays as the fallback`,
          ...(failedHere ? [`note:  ${header.version} was rolled back here before`] : []),
        ],
        choices: ["Deny", `Install ${header.version}`],
        timeoutMs: PROMPT_TIMEOUT_MS,
        dismissable: true,
      });
      if (answer.kind !== "choice" || answer.index !== 1)
        throw answer.kind === "choice" && answer.timedOut
          ? new Refusal("timeout", `nobody answered within ${PROMPT_TIMEOUT_MS / 1000} s`)
          : new Refusal("denied", "denied at the console");
    }
    const started = performance.now();
    const esp = mountEsp(openHelperLibc(), at.espDevice, true);
    if (typeof esp === "string") throw new Error(esp);
    let replaced: string[];
    try {
      replaced = await write(at, esp, header, opened, source, system.device, images.device, system.number);
    } finally {
      const closed = esp.close();
      if (closed !== null) log.warn("update.failed", { reason: closed });
    }
    // Said once the ESP is unmounted (FAT marks a volume mounted read-write dirty until then): a reset now is safe.
    log.info("update.installed", {
      version: header.version,
      slot: inactive,
      entry: entryFile(header.version, TRIES),
      replaced,
      ms: Math.round(performance.now() - started),
    });
  } finally {
    device.close();
  }
}

/** The install's writes, in the order a power cut at any point leaves the running version bootable; the UKIs it replaced. */
async function write(
  at: Installation,
  esp: Esp,
  header: BundleHeader,
  opened: Parameters<typeof readParts>[1],
  source: Parameters<typeof readParts>[0],
  systemDevice: string,
  imagesDevice: string,
  systemNumber: number,
): Promise<string[]> {
  const { log, inactive } = at;
  const uki = header.parts.find((p) => p.kind === "uki");
  const replaced = replacedBy(esp.list(ENTRIES_DIR), at.running);
  // Checked before anything is removed: a bundle refused for space leaves the fallback's UKI.
  const free = esp.free() + replaced.reduce((n, file) => n + esp.size(inEntries(file)), 0);
  if (free < (uki?.size ?? 0) + ESP_SLACK) throw new Refusal("space", `the ESP has ${free} bytes for a UKI`);
  for (const file of replaced) esp.remove(inEntries(file));
  esp.write(
    inEntries(INSTALLING_MARK),
    new TextEncoder().encode(JSON.stringify({ version: header.version, slot: inactive })),
  );
  const targets: Record<"system" | "image", BlockDevice> = {
    system: openBlockDevice(systemDevice, true),
    image: openBlockDevice(imagesDevice, true),
  };
  let written: ReturnType<typeof readBundle>;
  try {
    const total = header.parts.reduce((n, part) => n + part.size, 0);
    let done = 0;
    let reported = -1;
    written = readBundle(source, opened, (part, chunk, offset) => {
      if (part.kind !== "uki") targets[part.kind].write((part.slot_offset ?? 0) + offset, chunk);
      done += chunk.length;
      const percent = Math.floor((done / total) * 10) * 10;
      if (percent > reported) log.info("update.installing", { version: header.version, percent });
      reported = Math.max(reported, percent);
    });
    targets.system.sync();
    targets.image.sync();
  } finally {
    targets.system.close();
    targets.image.close();
  }
  if (written.problem !== null) {
    wipeSystem(systemDevice);
    esp.remove(inEntries(INSTALLING_MARK));
    throw written.problem;
  }
  // The slot's system partition now answers to the PARTUUID the new UKI pins, and only then is the UKI put in place.
  setPartitionUuid(at.disk, systemNumber, ukiFacts(written.uki).systemPartUuid ?? "");
  const partial = inEntries(partialFile(header.version, randomBytes(4).toString("hex")));
  esp.write(partial, written.uki);
  esp.rename(partial, inEntries(entryFile(header.version, TRIES)));
  esp.remove(inEntries(INSTALLING_MARK));
  return replaced;
}

/** The boot disk as read now, and its raw form; throws when it cannot be told. */
async function bootDisk(): Promise<{ raw: RawDisk[]; disk: RawDisk; bootDisk: Disk; esp: string }> {
  const raw = await readDisks(() => undefined);
  const choice = await findBootDisk(raw);
  if (!choice.ok) throw new Error(`no boot disk: ${choice.reason}`);
  const disk = raw.find((d) => d.name === choice.disk.name);
  if (disk === undefined) throw new Error(`the boot disk ${choice.disk.name} went away`);
  return { raw, disk, bootDisk: choice.disk, esp: partition(choice.disk, PARTITION.esp.label).device };
}

/** A small file of the ESP's UKI folder, read with it mounted read-only, or null. */
function espText(device: string, file: string): string | null {
  const esp = mountEsp(openHelperLibc(), device, false);
  if (typeof esp === "string") return null;
  try {
    return readText(esp, file);
  } finally {
    esp.close();
  }
}

async function offer(log: Log, ask: Ask | null, slot: Slot): Promise<Done> {
  const running = osReleaseField(readTextOrNull("/etc/os-release") ?? "", "IMAGE_VERSION");
  if (running === null) throw new Error("the running image has no IMAGE_VERSION");
  const found = await bootDisk();
  const inactive = otherSlot(slot);
  const inactiveSystem = partition(found.bootDisk, slotLabels(inactive).system).device;
  // Mounted read-only to look, read-write only when something is to be cleared: a boot that finds nothing writes nothing.
  for (const writable of [false, true]) {
    const esp = mountEsp(openHelperLibc(), found.esp, writable);
    if (typeof esp === "string") throw new Error(esp);
    let more = false;
    try {
      if (writable) settle(log, esp, running, inactiveSystem, inactive);
      else more = leftSomething(esp, running);
    } finally {
      const closed = esp.close();
      if (closed !== null) log.warn("update.failed", { reason: closed });
    }
    if (!more) break;
  }
  const sticks = found.raw.filter(
    (d) => d.name !== found.disk.name && BUNDLE_MAGIC.every((byte, i) => d.head[i] === byte),
  );
  const runningEntry = loaderText(await readLoaderVariable("LoaderEntrySelected"));
  const rolledBack = rolledBackVersions(espText(found.esp, ROLLED_BACK_FILE));
  let done: Done = "none";
  // Each disk in turn, in the kernel's order; once one installed, the others wait for the next boot.
  for (const stick of sticks) {
    try {
      if (done === "installed") throw new Refusal("busy", "an update was installed from another disk this boot");
      if (runningEntry === null || parseEntry(runningEntry) === null)
        throw new Refusal("format", "this machine was not started by systemd-boot from an Anchor entry");
      const at = { log, ask, running, rolledBack, inactive, disk: found.disk, bootDisk: found.bootDisk };
      await install({ ...at, espDevice: found.esp }, stick);
      done = "installed";
    } catch (error) {
      if (!(error instanceof Refusal)) throw error;
      log.warn("update.refused", { reason: error.kind, detail: error.detail, source: `disk ${stick.name}` });
    }
  }
  return done;
}

async function bless(log: Log): Promise<Done> {
  const path = loaderText(await readLoaderVariable("LoaderBootCountPath"));
  const names = path === null ? null : blessing(path);
  if (names === null) throw new Error(`not a trial boot of an Anchor entry (${path ?? "no LoaderBootCountPath"})`);
  const found = await bootDisk();
  const esp = mountEsp(openHelperLibc(), found.esp, true);
  if (typeof esp === "string") throw new Error(esp);
  try {
    // Both names: a rename FAT tore may have left them on the same clusters; renaming over one would free them.
    if (esp.list(ENTRIES_DIR).includes(names.to)) throw new Error(`${names.to} is there beside ${names.from}`);
    esp.rename(inEntries(names.from), inEntries(names.to));
  } finally {
    const closed = esp.close();
    if (closed !== null) log.warn("update.failed", { reason: closed });
  }
  log.info("update.blessed", { version: parseEntry(names.to)?.version ?? null, entry: names.to, was: names.from });
  return "blessed";
}

export async function runUpdate(args: string[]): Promise<void> {
  const { log, ask, say, end } = talkToBay0();
  const mode = parseUpdateArgs(args);
  let done: Done = "none";
  try {
    if (mode === null) throw new Error(`usage: bay0 update offer a|b console|headless, or bay0 update bless`);
    done = mode.mode === "bless" ? await bless(log) : await offer(log, mode.console ? ask : null, mode.slot);
  } catch (error) {
    log.error("update.failed", { reason: error instanceof Error ? error.message : String(error) });
  } finally {
    say({ done });
    end();
  }
}
