/**
 * Device-mapper through its ioctls on /dev/mapper/control (linux/dm-ioctl.h),
 * so bay0 maps verity images without shipping veritysetup, libcryptsetup and
 * libcrypto in the UKI. Only what bay0 needs: create a read-only device from
 * one target, and remove it.
 */
import type { Libc, SysResult } from "./libc.ts";

const HEADER_BYTES = 312;
const SPEC_BYTES = 40;
const BUFFER_BYTES = 16384;
const NAME_AT = 48;
const DEV_AT = 40;
const READONLY_FLAG = 1;
const dmRequest = (nr: number): number => ((3 << 30) | (HEADER_BYTES << 16) | (0xfd << 8) | nr) >>> 0;
export const DM = { DEV_CREATE: dmRequest(3), DEV_REMOVE: dmRequest(4), DEV_SUSPEND: dmRequest(6), TABLE_LOAD: dmRequest(9) } as const;

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

export type DeviceMapper = {
  /** Creates read-only device `name` from one target: its /dev/dm-N path. */
  create(name: string, target: DmTarget): { ok: true; device: string; majorMinor: string } | { ok: false; error: string };
  remove(name: string): void;
};

export function deviceMapper(libc: Libc, control: number): DeviceMapper {
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
