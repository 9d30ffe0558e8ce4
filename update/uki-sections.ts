/**
 * What an update's UKI says of itself, read from its PE sections (bounded:
 * the section table once, at most MAX_SECTIONS): the version in `.osrel`
 * and the system partition it pins in `.cmdline`, which the installer
 * gives the slot's system partition.
 */
import { osReleaseField } from "../sys/os-release.ts";

const MAX_SECTIONS = 96;
const SECTION_BYTES = 40;

/** The bytes of `pe`'s section `name` (`.cmdline`), or null when it has none. */
export function peSection(pe: Uint8Array, name: string): Uint8Array | null {
  const view = new DataView(pe.buffer, pe.byteOffset, pe.byteLength);
  const u16 = (at: number): number => (at + 2 <= pe.length ? view.getUint16(at, true) : -1);
  const u32 = (at: number): number => (at + 4 <= pe.length ? view.getUint32(at, true) : -1);
  if (u16(0) !== 0x5a4d) return null;
  const header = u32(0x3c);
  if (header < 0 || u32(header) !== 0x00004550) return null;
  const count = Math.min(u16(header + 6), MAX_SECTIONS);
  const optionalSize = u16(header + 20);
  if (count < 0 || optionalSize < 0) return null;
  const table = header + 24 + optionalSize;
  for (let i = 0; i < count; i++) {
    const at = table + i * SECTION_BYTES;
    if (at + SECTION_BYTES > pe.length) return null;
    const sectionName = new TextDecoder().decode(pe.subarray(at, at + 8)).replace(/\0.*$/s, "");
    if (sectionName !== name) continue;
    const [virtualSize, rawSize, rawAt] = [u32(at + 8), u32(at + 16), u32(at + 20)];
    const size = Math.min(virtualSize, rawSize);
    return rawAt + size <= pe.length ? pe.subarray(rawAt, rawAt + size) : null;
  }
  return null;
}

const text = (bytes: Uint8Array | null): string =>
  new TextDecoder().decode(bytes ?? new Uint8Array()).replace(/\0.*$/s, "");

/** The version the UKI carries (`.osrel`'s IMAGE_VERSION) and the PARTUUID of the system partition it pins, or null for each it lacks. */
export function ukiFacts(pe: Uint8Array): { version: string | null; systemPartUuid: string | null } {
  const pin = /(?:^|\s)anchor\.system=([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}),/.exec(
    text(peSection(pe, ".cmdline")),
  );
  return { version: osReleaseField(text(peSection(pe, ".osrel")), "IMAGE_VERSION"), systemPartUuid: pin?.[1] ?? null };
}
