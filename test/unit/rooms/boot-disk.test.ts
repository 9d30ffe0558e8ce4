import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  chooseBootDisk,
  crc32,
  parseBootOption,
  parseGpt,
  loaderText,
  parseLoaderPartUuid,
  pciPathOf,
  PARTITION,
  type Disk,
} from "../../../rooms/boot-disk.ts";
import { buildDiskImage } from "../../../uki/disk.ts";

const scratch = mkdtempSync(join(tmpdir(), "anchor-gpt-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("parseGpt", () => {
  // The table comes from sfdisk (util-linux), the field tool the build uses.
  const image = join(scratch, "disk.img");
  const layout = buildDiskImage({ output: image, esp: null, images: [], system: null, seed: "unit" });
  const head = readFileSync(image).subarray(0, 65536);

  it("reads labels, types, UUIDs and extents as sfdisk wrote them", () => {
    const gpt = parseGpt(head, 512);
    expect(gpt.ok).toBe(true);
    if (!gpt.ok) return;
    expect(gpt.partitions.map((p) => [p.number, p.label, p.type, p.uuid])).toEqual(
      layout.map((p, i) => [i + 1, p.label, p.type, p.uuid]),
    );
    expect(gpt.partitions[1]?.firstLba).toBe(BigInt(((layout[1]?.startMib ?? 0) * 1048576) / 512));
    expect(gpt.partitions.map((p) => p.label)).toEqual([
      PARTITION.esp.label,
      PARTITION.imagesA.label,
      PARTITION.imagesB.label,
      PARTITION.systemA.label,
      PARTITION.systemB.label,
      PARTITION.vault.label,
    ]);
  });

  it("refuses a header or entry table whose CRC does not match, and a disk with no GPT", () => {
    const header = Uint8Array.from(head);
    header[512 + 40] = (header[512 + 40] ?? 0) ^ 1;
    expect(parseGpt(header, 512)).toEqual({ ok: false, error: "GPT header CRC mismatch" });
    const entries = Uint8Array.from(head);
    entries[1024 + 56] = (entries[1024 + 56] ?? 0) ^ 1;
    expect(parseGpt(entries, 512)).toEqual({ ok: false, error: "GPT entries CRC mismatch" });
    expect(parseGpt(new Uint8Array(4096), 512)).toEqual({ ok: false, error: "no GPT signature" });
  });

  it("computes the IEEE CRC-32", () => {
    expect(crc32(new TextEncoder().encode("123456789"))).toBe(0xcbf43926);
  });
});

const part = (label: string, uuid: string): Disk["partitions"][number] => ({
  number: 1,
  type: "t",
  uuid,
  label,
  firstLba: 2048n,
  lastLba: 4095n,
  device: `/dev/${uuid}`,
  majorMinor: "254:1",
});
const disk = (name: string, ...partitions: Disk["partitions"]): Disk => ({
  name,
  sysfs: `/sys/devices/pci0000:00/0000:00:0${name === "vda" ? 4 : 5}.0/virtio1/block/${name}`,
  partitions,
});
const ESP_A = "11111111-1111-4111-8111-111111111111";
const ESP_B = "22222222-2222-4222-8222-222222222222";

describe("chooseBootDisk", () => {
  const boot = disk("vda", part("anchor-esp", ESP_A), part("anchor-images-a", "a"));
  const stick = disk("sda", part("anchor-images-a", "b"), part("anchor-esp", ESP_B));
  const other = disk("vdb", part("data", "c"));

  it("takes the disk holding the firmware's boot partition and ignores other Anchor disks", () => {
    const choice = chooseBootDisk([stick, boot, other], ESP_A.toUpperCase());
    expect(choice).toMatchObject({ ok: true, how: "loader-partition", disk: { name: "vda" } });
    expect(choice.ignored.map((d) => d.name)).toEqual(["sda"]);
  });

  it("falls back to the only Anchor disk when the firmware reported none", () => {
    expect(chooseBootDisk([other, boot], null)).toMatchObject({
      ok: true,
      how: "only-anchor-disk",
      disk: { name: "vda" },
    });
  });

  it("refuses to guess between two Anchor disks or two holders of the boot partition", () => {
    expect(chooseBootDisk([boot, stick], null)).toMatchObject({
      ok: false,
      ignored: [{ name: "vda" }, { name: "sda" }],
    });
    const twin = disk("sdb", part("anchor-esp", ESP_A));
    expect(chooseBootDisk([boot, twin], ESP_A)).toMatchObject({
      ok: false,
      reason: `2 disks hold the boot partition ${ESP_A}, and the firmware's boot entry does not single one out`,
    });
    expect(chooseBootDisk([stick], ESP_A)).toMatchObject({ ok: false });
  });

  it("between holders of a cloned boot partition, takes the one the firmware's boot entry leads to, if exactly one", () => {
    const twin = disk("vdb", part("anchor-esp", ESP_A), part("anchor-images-a", "a"));
    const choice = chooseBootDisk([twin, boot], ESP_A, [{ device: 4, fn: 0 }]);
    expect(choice).toMatchObject({ ok: true, how: "firmware-device", disk: { name: "vda" } });
    expect(choice.ignored.map((d) => d.name)).toEqual(["vdb"]);
    // A short-form entry (no PCI hops), one that leads elsewhere, or two disks behind the same function: no guess.
    expect(chooseBootDisk([twin, boot], ESP_A, [])).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/does not single one out/),
    });
    expect(chooseBootDisk([twin, boot], ESP_A, [{ device: 7, fn: 0 }])).toMatchObject({ ok: false });
    expect(chooseBootDisk([{ ...twin, sysfs: boot.sysfs }, boot], ESP_A, [{ device: 4, fn: 0 }])).toMatchObject({
      ok: false,
    });
  });
});

/** A Boot#### variable as efivarfs shows OVMF's: attributes, then an EFI_LOAD_OPTION whose path is `nodes`. */
function bootOption(nodes: number[][]): Uint8Array {
  const path = Buffer.from(nodes.flat());
  const head = Buffer.alloc(10);
  head.writeUInt32LE(7, 0);
  head.writeUInt32LE(1, 4);
  head.writeUInt16LE(path.length, 8);
  return Buffer.concat([head, Buffer.from("UEFI Misc Device\0", "utf16le"), path]);
}
const PCI_ROOT = [0x02, 0x01, 12, 0, 0xd0, 0x41, 0x03, 0x0a, 0, 0, 0, 0];
const END = [0x7f, 0xff, 4, 0];

describe("parseBootOption and pciPathOf", () => {
  it("read the same PCI hops from a firmware boot entry and from sysfs", () => {
    const pci = (device: number, fn: number): number[] => [0x01, 0x01, 6, 0, fn, device];
    expect(parseBootOption(bootOption([PCI_ROOT, pci(0x1c, 0), pci(0, 1), END]))).toEqual([
      { device: 0x1c, fn: 0 },
      { device: 0, fn: 1 },
    ]);
    expect(pciPathOf("/sys/devices/pci0000:00/0000:00:1c.0/0000:03:00.1/nvme/nvme0/nvme0n1")).toEqual([
      { device: 0x1c, fn: 0 },
      { device: 0, fn: 1 },
    ]);
    expect(pciPathOf(null)).toEqual([]);
  });
  it("finds no hops in a short-form HD() entry, and refuses what is not a load option", () => {
    const hd = [0x04, 0x01, 42, 0, ...new Array<number>(38).fill(0)];
    expect(parseBootOption(bootOption([hd, END]))).toEqual([]);
    expect(parseBootOption(bootOption([[0x01, 0x01, 2, 0]]))).toBeNull();
    expect(parseBootOption(new Uint8Array(6))).toBeNull();
    const cut = bootOption([PCI_ROOT, END]);
    expect(parseBootOption(cut.subarray(0, cut.length - 2))).toBeNull();
  });
});

describe("parseLoaderPartUuid", () => {
  it("reads the attributes then the UTF-16LE GUID, and refuses anything else", () => {
    const value = Buffer.concat([Buffer.from([6, 0, 0, 0]), Buffer.from(`${ESP_A.toUpperCase()}\0`, "utf16le")]);
    expect(parseLoaderPartUuid(value)).toBe(ESP_A);
    expect(
      parseLoaderPartUuid(Buffer.concat([Buffer.from([6, 0, 0, 0]), Buffer.from("not-a-guid", "utf16le")])),
    ).toBeNull();
  });
});

describe("loaderText", () => {
  const variable = (text: string): Uint8Array =>
    Buffer.concat([Buffer.from([6, 0, 0, 0]), Buffer.from(text, "utf16le")]);
  it("reads what systemd-boot says of itself and of the entry it chose, up to the NUL", () => {
    expect(loaderText(variable("systemd-boot 252.39-1~deb12u2\0"))).toBe("systemd-boot 252.39-1~deb12u2");
    expect(loaderText(variable("anchor_0.1.0.efi\0junk"))).toBe("anchor_0.1.0.efi");
  });
  it("gives null for no variable, an empty one, or one that is not printable text", () => {
    expect(loaderText(null)).toBeNull();
    expect(loaderText(variable("\0"))).toBeNull();
    expect(loaderText(variable("a\u001b[2Jb"))).toBeNull();
    expect(loaderText(variable("x".repeat(201)))).toBeNull();
  });
});
