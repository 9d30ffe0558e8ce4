/**
 * out/anchor.img: the GPT disk a machine boots (written with dd to a USB
 * stick or the device's disk). Made with field tools: sfdisk writes the
 * table, mkfs.vfat + mtools the ESP; the slot's images are copied in at
 * their manifest offsets. Partition UUIDs, the FAT volume id and every
 * timestamp are fixed, so one tree gives one image.
 */
import { createHash } from "node:crypto";
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  truncateSync,
  utimesSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parseGpt, PARTITION } from "../rooms/boot-disk.ts";
import type { ImageManifest, ImageManifestEntry } from "../rooms/images.ts";
import { systemPartUuid } from "./cmdline.ts";
import { runHostTool } from "./host-tool.ts";

const MiB = 1048576;
const SECTOR = 512;
/** Sized for two UKIs of up to 60 MiB each (the running one and an update). */
export const ESP_MIB = 128;
/** The vault partition as built: a placeholder the vault grows to the end of the disk on first boot. */
export const VAULT_MIB = 16;
/** FAT keeps no time before 1980: every ESP file and directory gets this one (1980-01-02). */
const FAT_EPOCH = 315619200;

export type VerityImage = { name: string; file: string; verity: Omit<ImageManifestEntry, "offset"> };
/** A system image (uki/system-image.ts) and its verity parameters: slot A's `anchor-system-a`. */
export type SystemImage = { file: string; verity: Omit<ImageManifestEntry, "offset"> };

const alignUp = (n: number, to: number): number => Math.ceil(n / to) * to;

/** Places the images one after another in a slot, each 1 MiB aligned, in name order. */
export function slotManifest(images: VerityImage[]): ImageManifest {
  const manifest: ImageManifest = {};
  let offset = 0;
  for (const image of [...images].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    manifest[image.name] = { ...image.verity, offset };
    offset = alignUp(offset + image.verity.size, MiB);
  }
  return manifest;
}

/** A slot's size: its images plus half again for the updates that will replace them, in 64 MiB steps. */
export function slotMib(manifest: ImageManifest): number {
  const used = Math.max(0, ...Object.values(manifest).map((e) => e.offset + e.size));
  return Math.max(128, alignUp(Math.ceil((used * 1.5) / MiB), 64));
}

/** A UUID (version 4 layout) derived from `seed`: stable for the same inputs. */
export const derivedUuid = (seed: string): string => systemPartUuid(createHash("sha256").update(seed).digest("hex"));

/** A slot: the built image goes into A; an update, or a test, may fill B. */
export type Slot = "a" | "b";

export type DiskLayout = { label: string; type: string; uuid: string; startMib: number; sizeMib: number }[];

/** A system slot's size: the image and half again, in 64 MiB steps, at least 128 MiB. */
export const systemSlotMib = (bytes: number): number => Math.max(128, alignUp(Math.ceil((bytes * 1.5) / MiB), 64));

/**
 * The partitions of the disk, in order: ESP, images slot A, images slot B
 * (empty), system slot A, system slot B (empty), vault (placeholder, last:
 * it grows to the end of the disk). The system partition of `system.slot`
 * (A unless said) is named by its image's root hash, the others by `seed`.
 */
export function diskLayout(
  slotSizeMib: number,
  seed: string,
  system: { sizeMib: number; rootHash: string | null; slot?: Slot } = { sizeMib: 128, rootHash: null },
): DiskLayout {
  const systemLabel = system.slot === "b" ? PARTITION.systemB.label : PARTITION.systemA.label;
  const parts = [
    { ...PARTITION.esp, sizeMib: ESP_MIB },
    { ...PARTITION.imagesA, sizeMib: slotSizeMib },
    { ...PARTITION.imagesB, sizeMib: slotSizeMib },
    { ...PARTITION.systemA, sizeMib: system.sizeMib },
    { ...PARTITION.systemB, sizeMib: system.sizeMib },
    { ...PARTITION.vault, sizeMib: VAULT_MIB },
  ];
  let startMib = 1;
  return parts.map((p) => {
    const uuid =
      p.label === systemLabel && system.rootHash !== null
        ? systemPartUuid(system.rootHash)
        : derivedUuid(`${seed}:${p.label}`);
    const placed = { label: p.label, type: p.type, uuid, startMib, sizeMib: p.sizeMib };
    startMib += p.sizeMib;
    return placed;
  });
}

/** sfdisk's input for the layout. */
export function sfdiskScript(layout: DiskLayout, diskUuid: string): string {
  const lines = [
    "label: gpt",
    `label-id: ${diskUuid}`,
    "unit: sectors",
    "first-lba: 2048",
    `sector-size: ${SECTOR}`,
    "",
  ];
  for (const p of layout) {
    lines.push(
      `start=${(p.startMib * MiB) / SECTOR}, size=${(p.sizeMib * MiB) / SECTOR}, type=${p.type}, uuid=${p.uuid}, name="${p.label}"`,
    );
  }
  return `${lines.join("\n")}\n`;
}

function writeAt(fd: number, file: string, offset: number): void {
  const bytes = readFileSync(file);
  for (let done = 0; done < bytes.length;) done += writeSync(fd, bytes, done, bytes.length - done, offset + done);
}

/**
 * What the ESP holds: systemd-boot, signed with the db key, as the removable
 * media loader, and the UKI under `EFI/Linux/` named by its version, which
 * systemd-boot lists by itself. With `loader` null the UKI alone is the
 * loader, as images before 0.1.0's boot path were made (a test compares PCR 7).
 */
export type EspContents = { loader: string | null; uki: string; version: string };

/**
 * systemd-boot's settings: no menu unless a key is held at boot, no editor, no entries found elsewhere, no key
 * enrolment offered, nothing written but boot counters.
 */
export const LOADER_CONF = [
  "timeout 0",
  "editor no",
  "auto-entries no",
  "auto-firmware no",
  "secure-boot-enroll off",
  "random-seed-mode off",
  "",
].join("\n");

/** Where each file goes on the ESP. */
export function espFiles(esp: EspContents): { path: string; from: string | { text: string } }[] {
  if (esp.loader === null) return [{ path: "EFI/BOOT/BOOTX64.EFI", from: esp.uki }];
  return [
    { path: "EFI/BOOT/BOOTX64.EFI", from: esp.loader },
    { path: "loader/loader.conf", from: { text: LOADER_CONF } },
    { path: `EFI/Linux/anchor_${esp.version}.efi`, from: esp.uki },
  ];
}

/** The ESP as a tree of files under `dir` (`out/esp/`), made anew. */
export function writeEspTree(dir: string, esp: EspContents): void {
  rmSync(dir, { recursive: true, force: true });
  for (const { path, from } of espFiles(esp)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    if (typeof from === "string") copyFileSync(from, join(dir, path));
    else writeFileSync(join(dir, path), from.text);
  }
}

/** The ESP as a FAT image. */
function espImage(esp: EspContents, scratch: string): string {
  const image = join(scratch, "esp.img");
  const env = { SOURCE_DATE_EPOCH: String(FAT_EPOCH) };
  runHostTool(
    ["mkfs.vfat", "-C", "-F", "32", "-n", "ANCHOR-ESP", "-i", "414e4348", "--invariant", image, String(ESP_MIB * 1024)],
    { env },
  );
  const files = espFiles(esp);
  const dirs = [
    ...new Set(
      files.flatMap(({ path }) =>
        path
          .split("/")
          .slice(0, -1)
          .map((_, i, all) => all.slice(0, i + 1).join("/")),
      ),
    ),
  ];
  runHostTool(["mmd", "-i", image, ...dirs.sort().map((dir) => `::/${dir}`)], { env });
  files.forEach(({ path, from }, i) => {
    const staged = join(scratch, `esp-file-${i}`);
    if (typeof from === "string") copyFileSync(from, staged);
    else writeFileSync(staged, from.text);
    utimesSync(staged, FAT_EPOCH, FAT_EPOCH);
    runHostTool(["mcopy", "-m", "-i", image, staged, `::/${path}`], { env });
  });
  return image;
}

/**
 * Writes the disk image: the table, the ESP (unless `esp` is null: test
 * disks booted directly), and in `slot` (A unless said) the images at their
 * manifest offsets and the system image. Empty space stays sparse in the file. Returns the layout written.
 */
export function buildDiskImage(options: {
  output: string;
  esp: EspContents | null;
  images: VerityImage[];
  system: SystemImage | null;
  seed: string;
  slot?: Slot;
}): DiskLayout {
  const slotLabels =
    options.slot === "b"
      ? { images: PARTITION.imagesB.label, system: PARTITION.systemB.label }
      : { images: PARTITION.imagesA.label, system: PARTITION.systemA.label };
  const manifest = slotManifest(options.images);
  const system = options.system;
  const layout = diskLayout(slotMib(manifest), options.seed, {
    sizeMib: systemSlotMib(system?.verity.size ?? 0),
    rootHash: system?.verity.root_hash ?? null,
    slot: options.slot,
  });
  const last = layout[layout.length - 1];
  const totalBytes = ((last?.startMib ?? 0) + (last?.sizeMib ?? 0) + 1) * MiB;
  const scratch = mkdtempSync(join(tmpdir(), "anchor-disk-"));
  try {
    rmSync(options.output, { force: true });
    closeSync(openSync(options.output, "w"));
    truncateSync(options.output, totalBytes);
    const script = join(scratch, "layout.sfdisk");
    writeFileSync(script, sfdiskScript(layout, derivedUuid(`${options.seed}:disk`)));
    runHostTool(["sh", "-c", `sfdisk --quiet --no-reread --no-tell-kernel "$0" < "$1"`, options.output, script]);
    const fd = openSync(options.output, "r+");
    try {
      const [esp] = layout;
      if (esp && options.esp !== null) writeAt(fd, espImage(options.esp, scratch), esp.startMib * MiB);
      const systemPart = layout.find((p) => p.label === slotLabels.system);
      if (systemPart && system !== null) writeAt(fd, system.file, systemPart.startMib * MiB);
      const imagesPart = layout.find((p) => p.label === slotLabels.images);
      for (const image of options.images) {
        const entry = manifest[image.name];
        if (imagesPart && entry) writeAt(fd, image.file, imagesPart.startMib * MiB + entry.offset);
      }
    } finally {
      closeSync(fd);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  if (statSync(options.output).size !== totalBytes) throw new Error(`${options.output} has the wrong size`);
  return layout;
}

/** A disk image file's partitions (from its primary GPT): label, start and size in bytes; none without a GPT. */
export function diskPartitions(file: string): { label: string; start: number; size: number }[] {
  const fd = openSync(file, "r");
  const head = new Uint8Array(65536);
  try {
    readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  const gpt = parseGpt(head, SECTOR);
  if (!gpt.ok) return [];
  return gpt.partitions.map((p) => ({
    label: p.label,
    start: Number(p.firstLba) * SECTOR,
    size: Number(p.lastLba - p.firstLba + 1n) * SECTOR,
  }));
}

/**
 * Brings a device's disk (`npm run boot`'s out/disk.img) up to date with a
 * newer built image the way an update would: every partition but the vault
 * is rewritten, so what the vault stores survives rebuilds. A disk that is
 * missing or has another partition table starts afresh. Says what it did.
 */
export function refreshDeviceDisk(image: string, disk: string): string {
  const current = existsSync(disk) ? diskPartitions(disk) : [];
  const built = diskPartitions(image);
  const same =
    current.length === built.length &&
    built.every(
      (p, i) =>
        p.label === current[i]?.label &&
        p.start === current[i]?.start &&
        (p.label === PARTITION.vault.label || p.size === current[i]?.size),
    );
  if (!same) {
    copyFileSync(image, disk);
    return current.length === 0
      ? `made from ${image}`
      : `made afresh from ${image}, whose partition table differs (its vault is gone)`;
  }
  if (statSync(disk).mtimeMs >= statSync(image).mtimeMs) return "up to date";
  const from = openSync(image, "r");
  const to = openSync(disk, "r+");
  try {
    const chunk = Buffer.alloc(MiB);
    for (const part of built.filter((p) => p.label !== PARTITION.vault.label)) {
      for (let done = 0; done < part.size;) {
        const n = readSync(from, chunk, 0, Math.min(chunk.length, part.size - done), part.start + done);
        writeSync(to, chunk, 0, n, part.start + done);
        done += n;
      }
    }
  } finally {
    closeSync(from);
    closeSync(to);
  }
  return `updated from ${image}, the vault partition kept`;
}
