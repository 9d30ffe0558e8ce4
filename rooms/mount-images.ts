/**
 * Mounts the base images: a helper process (bay0's executable in
 * `mount-images` mode, started by bay0 as root in bay0's mount namespace,
 * never PID 1). It parses what every attached disk holds, and any disk's GPT
 * is hostile input: a crash here costs the images, not PID 1. It finds the
 * disk bay0 booted from, maps each image that the signed manifest pins as
 * dm-verity, reads it whole, mounts it where room plans expect it, reads
 * the image's room policies (their TOML is parsed here, not in PID 1), and
 * prints its log records and then one report (rooms/images-report.ts).
 * First it logs the kernel's hardening and the TPM's boot PCRs, as bay0's
 * records (`kernel.hardening`, `tpm.pcrs`), so PID 1 carries none of that.
 */
import { IMAGE_MANIFEST, POLICY_DIR } from "../init/layout.ts";
import { loadPolicies } from "../policies/load.ts";
import { constants, existsSync } from "node:fs";
import { assessHardening } from "../init/hardening.ts";
import { readPcrs } from "../init/tpm.ts";
import { loaderText, PARTITION } from "./boot-disk.ts";
import { imageManifestSchema, mountImage, openVerified } from "./images.ts";
import type { ImagesReport } from "./images-report.ts";
import { findBootDisk, readDisks, readLoaderVariable, readWhole } from "../sys/block-devices.ts";
import { openCharDevice } from "../sys/devices.ts";
import { deviceMapper } from "../sys/device-mapper.ts";
import { readJsonOrNull, readTextOrNull } from "../sys/files.ts";
import { imageFs } from "../sys/fs-node.ts";
import { openHelperLibc } from "../sys/libc-helper.ts";
import { createLog, type Log } from "../sys/log.ts";

const DM_CONTROL = "/dev/mapper/control";

/**
 * The images partition of the slot bay0 runs from and the vault's partition
 * on the disk bay0 booted from; other disks' Anchor partitions are logged
 * and left alone.
 */
async function findBootPartitions(
  log: Log,
  slotLabel: string,
): Promise<{ slot: { device: string; majorMinor: string } | null; vault: ImagesReport["vault"] }> {
  const raw = await readDisks((disk, error) => log.warn("image.ignored", { disk, reason: `unreadable: ${error}` }));
  const choice = await findBootDisk(raw);
  for (const disk of choice.ignored) {
    log.warn("image.ignored", {
      disk: disk.name,
      partitions: disk.partitions.map((p) => p.label),
      reason: choice.ok ? "not the boot disk" : choice.reason,
    });
  }
  if (!choice.ok) {
    log.error("image.failed", { reason: `no boot disk: ${choice.reason}` });
    return { slot: null, vault: null };
  }
  const slot = choice.disk.partitions.find((p) => p.label === slotLabel);
  const vault = choice.disk.partitions.find((p) => p.label === PARTITION.vault.label);
  log.info("image.boot_disk", { disk: choice.disk.name, how: choice.how, slot: slot?.device ?? null });
  if (slot === undefined)
    log.error("image.failed", {
      reason: `the boot disk ${choice.disk.name} has no ${slotLabel} partition`,
    });
  return {
    slot: slot ?? null,
    vault:
      vault === undefined ? null : { device: vault.device, disk: `/dev/${choice.disk.name}`, number: vault.number },
  };
}

/** Mounts what it can, naming each image in `mounted`; the vault partition. */
async function mountImages(log: Log, mounted: string[], slotLabel: string): Promise<ImagesReport["vault"]> {
  const libc = openHelperLibc();
  const manifest = imageManifestSchema.safeParse(readJsonOrNull(IMAGE_MANIFEST) ?? {});
  if (!manifest.success)
    log.error("image.failed", { reason: `image manifest ${IMAGE_MANIFEST} is invalid: ${manifest.error.message}` });
  const { slot, vault } = await findBootPartitions(log, slotLabel);
  if (slot === null) return vault;
  const control = openCharDevice(DM_CONTROL, constants.O_RDWR);
  const dm = deviceMapper(libc, control);
  for (const [name, entry] of Object.entries(manifest.success ? manifest.data : {})) {
    const verified = await openVerified(dm, readWhole, name, slot.majorMinor, entry);
    if (!verified.ok) {
      log.error("image.verity_failed", { image: name, partition: slot.device, error: verified.error });
      continue;
    }
    const error = mountImage(libc, imageFs, name, verified.device);
    if (error === null) {
      mounted.push(name);
      log.info("image.mounted", { image: name, device: verified.device, root_hash: entry.root_hash });
    } else log.error("image.failed", { image: name, device: verified.device, error });
  }
  return vault;
}

/** argv: the slot bay0 runs from, `a` or `b`. */
export async function runMountImages([slot = ""]: string[]): Promise<void> {
  const log = createLog([(line) => void process.stdout.write(`${line}\n`)]);
  // What the kernel and the TPM show at boot: read here, not in PID 1, which has no use for it but the log.
  const host = { read: readTextOrNull, exists: existsSync };
  log.info("kernel.hardening", assessHardening(host));
  const pcrs = readPcrs(host);
  if (pcrs === null) log.warn("tpm.absent", { reason: "no TPM 2.0 PCR bank in sysfs" });
  else log.info("tpm.pcrs", pcrs);
  // Which loader started the UKI, and which of the ESP's UKIs it chose: systemd-boot says so, a UKI booted alone not.
  const [loader, stub, entry] = await Promise.all(
    ["LoaderInfo", "StubInfo", "LoaderEntrySelected"].map(async (name) => loaderText(await readLoaderVariable(name))),
  );
  log.info("image.loader", { loader, stub, entry });
  const mounted: string[] = [];
  const slotLabel = slot === "b" ? PARTITION.imagesB.label : PARTITION.imagesA.label;
  const vault = await mountImages(log, mounted, slotLabel).catch((error: unknown) => {
    log.error("image.failed", { reason: String(error) });
    return null;
  });
  const files = imageFs
    .list(POLICY_DIR)
    .filter((f) => f.endsWith(".toml"))
    .map((f) => ({ path: `${POLICY_DIR}/${f}`, text: readTextOrNull(`${POLICY_DIR}/${f}`) ?? "" }));
  const { policies, rejected } = loadPolicies(files);
  const report: ImagesReport = { mounted, vault, policies: [...policies.values()].map((p) => p.data), rejected };
  process.stdout.write(`${JSON.stringify(report)}\n`);
}
