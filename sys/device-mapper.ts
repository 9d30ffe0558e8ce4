/**
 * Device-mapper through its ioctls on /dev/mapper/control (linux/dm-ioctl.h),
 * so bay0 maps verity images without shipping veritysetup, libcryptsetup and
 * libcrypto in the UKI. Only what bay0 needs: create a read-only device from
 * one target, remove it, and read a device's table (the vault's helper
 * reads the open vault's key this way).
 */
import type { SysResult } from "./libc.ts";
import type { HelperLibc } from "./libc-helper.ts";

const HEADER_BYTES = 312;
const SPEC_BYTES = 40;
const BUFFER_BYTES = 16384;
const NAME_AT = 48;
const DEV_AT = 40;
const READONLY_FLAG = 1;
/** DM_STATUS_TABLE_FLAG: the table, not the status; DM_SECURE_DATA_FLAG: the kernel wipes its copies of the buffer. */
const TABLE_FLAGS = (1 << 4) | (1 << 15);
const dmRequest = (nr: number): number => ((3 << 30) | (HEADER_BYTES << 16) | (0xfd << 8) | nr) >>> 0;
export const DM = {
  DEV_CREATE: dmRequest(3),
  DEV_REMOVE: dmRequest(4),
  DEV_SUSPEND: dmRequest(6),
  TABLE_LOAD: dmRequest(9),
  TABLE_STATUS: dmRequest(12),
} as const;

/** One table line: `length` sectors of `type` with its parameter string. */
export type DmTarget = { type: "linear" | "verity"; sectors: number; params: string };

/** The dm_ioctl header (version 4.0.0) for device `name`, with room for the kernel's reply. */
export function dmIoctlBuffer(name: string, flags: number, target?: DmTarget): Uint8Array {
  const buffer = new Uint8Array(BUFFER_BYTES);
  const view = new DataView(buffer.buffer);
  view.setUint32(0, 4, true);
  view.setUint32(12, BUFFER_BYTES, true);
  view.setUint32(16, HEADER_BYTES, true);
  view.setUint32(28, flags, true);
  const nameBytes = new TextEncoder().encode(name);
  if (nameBytes.length >= 128) throw new Error(`device-mapper name too long: ${name}`);
  buffer.set(nameBytes, NAME_AT);
  if (target !== undefined) {
    view.setUint32(20, 1, true);
    const params = new TextEncoder().encode(`${target.params}\0`);
    view.setBigUint64(HEADER_BYTES, 0n, true);
    view.setBigUint64(HEADER_BYTES + 8, BigInt(target.sectors), true);
    view.setUint32(HEADER_BYTES + 20, SPEC_BYTES + Math.ceil(params.length / 8) * 8, true);
    buffer.set(new TextEncoder().encode(target.type), HEADER_BYTES + 24);
    if (HEADER_BYTES + SPEC_BYTES + params.length > BUFFER_BYTES) throw new Error("device-mapper table too long");
    buffer.set(params, HEADER_BYTES + SPEC_BYTES);
  }
  return buffer;
}

/** The device number in the kernel's reply (`dev`, as huge_encode_dev packs it). */
export function replyDevice(reply: Uint8Array): { major: number; minor: number } {
  const dev = Number(new DataView(reply.buffer, reply.byteOffset).getBigUint64(DEV_AT, true));
  return { major: (dev & 0xfff00) >>> 8, minor: (dev & 0xff) | ((dev >>> 12) & 0xfff00) };
}

/** The parameter string of the one target in a TABLE_STATUS reply, or null when the reply holds anything else. */
export function replyTableParams(reply: Uint8Array): string | null {
  const view = new DataView(reply.buffer, reply.byteOffset, reply.byteLength);
  const dataStart = view.getUint32(16, true);
  if (view.getUint32(20, true) !== 1 || dataStart + SPEC_BYTES > reply.length) return null;
  const params = reply.subarray(dataStart + SPEC_BYTES);
  const end = params.indexOf(0);
  return end < 0 ? null : new TextDecoder().decode(params.subarray(0, end));
}

/** Device `name`'s table (its one target's parameters), which for dm-crypt holds the volume key: for a helper, never PID 1. */
export function readTable(
  libc: HelperLibc,
  control: number,
  name: string,
): { ok: true; params: string } | { ok: false; error: string } {
  const buffer = dmIoctlBuffer(name, TABLE_FLAGS);
  try {
    const result = libc.ioctlBuffer(control, DM.TABLE_STATUS, buffer);
    if (!result.ok) return { ok: false, error: `table of ${name}: ${result.message}` };
    const params = replyTableParams(buffer);
    return params === null ? { ok: false, error: `table of ${name}: not one target` } : { ok: true, params };
  } finally {
    buffer.fill(0);
  }
}

export type DeviceMapper = {
  /** Creates read-only device `name` from one target: its /dev/dm-N path. */
  create(
    name: string,
    target: DmTarget,
  ): { ok: true; device: string; majorMinor: string } | { ok: false; error: string };
  remove(name: string): void;
};

export function deviceMapper(libc: HelperLibc, control: number): DeviceMapper {
  const call = (request: number, buffer: Uint8Array, what: string): string | null => {
    const result: SysResult = libc.ioctlBuffer(control, request, buffer);
    return result.ok ? null : `${what}: ${result.message}`;
  };
  const remove = (name: string): void => void call(DM.DEV_REMOVE, dmIoctlBuffer(name, 0), "remove");
  return {
    remove,
    create(name, target) {
      const created = dmIoctlBuffer(name, 0);
      const error = call(DM.DEV_CREATE, created, `create ${name}`);
      if (error !== null) return { ok: false, error };
      const failed =
        call(DM.TABLE_LOAD, dmIoctlBuffer(name, READONLY_FLAG, target), `load ${target.type} table into ${name}`) ??
        call(DM.DEV_SUSPEND, dmIoctlBuffer(name, 0), `resume ${name}`);
      if (failed !== null) {
        remove(name);
        return { ok: false, error: failed };
      }
      const { major, minor } = replyDevice(created);
      return { ok: true, device: `/dev/dm-${minor}`, majorMinor: `${major}:${minor}` };
    },
  };
}
