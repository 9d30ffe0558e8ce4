import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseGpt } from "../../../rooms/boot-disk.ts";
import { gptHeaderFields, guidBytes, withPartitionGuid } from "../../../update/gpt-edit.ts";

const scratch = mkdtempSync(join(tmpdir(), "anchor-gpt-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const SECTOR = 512;
const NEW = "0a1b2c3d-4e5f-4a6b-8c7d-8e9fa0b1c2d3";

/** A 4 MiB disk image with three partitions, made by sfdisk. */
function disk(): Uint8Array {
  const file = join(scratch, "disk.img");
  writeFileSync(file, new Uint8Array(4 << 20));
  const made = spawnSync("sfdisk", ["-q", file], {
    input: "label: gpt\nsize=1MiB, name=one\nsize=1MiB, name=two\nname=three\n",
    encoding: "utf8",
  });
  if (made.status !== 0) throw new Error(made.stderr);
  return new Uint8Array(readFileSync(file));
}

/** Edits the disk's GPT copy whose header is at `lba`, in place; returns the other header's LBA. */
function edit(bytes: Uint8Array, lba: bigint, number: number, uuid: string): bigint {
  const header = bytes.slice(Number(lba) * SECTOR, Number(lba + 1n) * SECTOR);
  const fields = gptHeaderFields(header);
  if (!fields.ok) throw new Error(fields.error);
  const at = Number(fields.entriesLba) * SECTOR;
  const edited = withPartitionGuid(header, bytes.slice(at, at + fields.entriesBytes), number, uuid);
  if (!edited.ok) throw new Error(edited.error);
  bytes.set(edited.entries, at);
  bytes.set(edited.header, Number(lba) * SECTOR);
  return fields.alternateLba;
}

describe("a partition's GUID, rewritten in both GPTs", () => {
  it("writes GPT's mixed-endian byte order", () => {
    expect([...guidBytes("00112233-4455-6677-8899-aabbccddeeff")]).toEqual([
      0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
    ]);
    expect(() => guidBytes("not-a-uuid")).toThrow();
  });

  it("changes only that partition's GUID, in the primary and the backup, and sfdisk and our parser agree", () => {
    const bytes = disk();
    const before = parseGpt(bytes, SECTOR);
    edit(bytes, edit(bytes, 1n, 2, NEW), 2, NEW);
    const after = parseGpt(bytes, SECTOR);
    expect(before.ok && after.ok).toBe(true);
    if (!before.ok || !after.ok) return;
    expect(after.partitions.map((p) => p.uuid)).toEqual(before.partitions.map((p, i) => (i === 1 ? NEW : p.uuid)));
    const file = join(scratch, "edited.img");
    writeFileSync(file, bytes);
    // sfdisk reads the primary and checks the backup: it reports no corruption and the new UUID.
    const dump = spawnSync("sfdisk", ["--dump", file], { encoding: "utf8" });
    expect(dump.stderr).toBe("");
    expect(dump.stdout.toLowerCase()).toContain(`uuid=${NEW}`);
    const verify = spawnSync("sfdisk", ["--verify", file], { encoding: "utf8" });
    expect(verify.status, verify.stdout + verify.stderr).toBe(0);
  });

  it("edits nothing whose checksums do not hold, and no partition that is not there", () => {
    const bytes = disk();
    const header = bytes.slice(SECTOR, 2 * SECTOR);
    const fields = gptHeaderFields(header);
    if (!fields.ok) throw new Error(fields.error);
    const entries = bytes.slice(2 * SECTOR, 2 * SECTOR + fields.entriesBytes);
    const torn = entries.slice();
    torn[100] = (torn[100] ?? 0) ^ 1;
    expect(withPartitionGuid(header, torn, 1, NEW)).toEqual({ ok: false, error: "GPT entries CRC mismatch" });
    const badHeader = header.slice();
    badHeader[40] = (badHeader[40] ?? 0) ^ 1;
    expect(withPartitionGuid(badHeader, entries, 1, NEW)).toEqual({ ok: false, error: "GPT header CRC mismatch" });
    expect(withPartitionGuid(header, entries, 4, NEW)).toEqual({ ok: false, error: "no partition 4" });
    expect(withPartitionGuid(header, entries, 0, NEW)).toEqual({ ok: false, error: "no partition 0" });
  });
});
