import { describe, expect, it } from "vitest";
import { DM, dmIoctlBuffer, replyDevice, replyTableParams } from "../../../sys/device-mapper.ts";

describe("dm ioctl encoding", () => {
  it("uses _IOWR(0xfd, nr, struct dm_ioctl) request numbers", () => {
    expect(DM.DEV_CREATE.toString(16)).toBe("c138fd03");
    expect(DM.TABLE_LOAD.toString(16)).toBe("c138fd09");
    expect(DM.TABLE_STATUS.toString(16)).toBe("c138fd0c");
  });

  it("writes version 4, the name and one target spec followed by its parameters", () => {
    const buffer = dmIoctlBuffer("anchor-image-minimal", 1, { type: "linear", sectors: 32, params: "254:2 2048" });
    const view = new DataView(buffer.buffer);
    expect(view.getUint32(0, true)).toBe(4);
    expect(view.getUint32(16, true)).toBe(312);
    expect(view.getUint32(20, true)).toBe(1);
    expect(view.getUint32(28, true)).toBe(1);
    expect(new TextDecoder().decode(buffer.subarray(48, 68))).toBe("anchor-image-minimal");
    expect(view.getBigUint64(312 + 8, true)).toBe(32n);
    expect(view.getUint32(312 + 20, true)).toBe(56);
    expect(new TextDecoder().decode(buffer.subarray(336, 342))).toBe("linear");
    expect(new TextDecoder().decode(buffer.subarray(352, 363))).toBe("254:2 2048\0");
  });

  it("decodes the device number of the kernel's reply (huge_encode_dev)", () => {
    const reply = new Uint8Array(312);
    new DataView(reply.buffer).setBigUint64(40, BigInt((253 << 8) | 3 | (0x100 << 12)), true);
    expect(replyDevice(reply)).toEqual({ major: 253, minor: 0x103 });
  });

  it("reads the one target's parameters from a TABLE_STATUS reply, as dmIoctlBuffer lays a table out", () => {
    const reply = dmIoctlBuffer("vault", 0, {
      type: "linear",
      sectors: 8,
      params: "aes-xts-plain64 00ff 0 254:3 32768",
    });
    expect(replyTableParams(reply)).toBe("aes-xts-plain64 00ff 0 254:3 32768");
    new DataView(reply.buffer).setUint32(20, 2, true);
    expect(replyTableParams(reply)).toBeNull();
    expect(replyTableParams(dmIoctlBuffer("vault", 0))).toBeNull();
  });

  it("refuses names the kernel would cut", () => {
    expect(() => dmIoctlBuffer("x".repeat(128), 0)).toThrow(/too long/);
  });
});
