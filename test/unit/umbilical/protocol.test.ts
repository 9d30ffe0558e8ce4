import { describe, expect, it } from "vitest";
import { admit, encodeFrame, frameReader, MAX_FRAME_BYTES } from "../../../umbilical/protocol.ts";

const frame = (text: string): Uint8Array => {
  const body = new TextEncoder().encode(text);
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, body.length);
  out.set(body, 4);
  return out;
};

describe("frameReader", () => {
  it("splits frames however the stream cuts them, counting the bytes of a frame not yet whole", () => {
    const read = frameReader();
    const bytes = new Uint8Array([...frame('{"type":"room.status"}'), ...frame("{}")]);
    expect(read(bytes.subarray(0, 3))).toEqual({ bodies: [], oversized: false, pending: 3 });
    expect(read(bytes.subarray(3, 20))).toEqual({ bodies: [], oversized: false, pending: 20 });
    expect(read(bytes.subarray(20, 27))).toEqual({ bodies: ['{"type":"room.status"}'], oversized: false, pending: 1 });
    expect(read(bytes.subarray(27))).toEqual({ bodies: ["{}"], oversized: false, pending: 0 });
  });

  it("stops at a length over 64 KiB before reading its body", () => {
    const header = new Uint8Array(4);
    new DataView(header.buffer).setUint32(0, MAX_FRAME_BYTES + 1);
    expect(frameReader()(header)).toEqual({ bodies: [], oversized: true, pending: 0 });
  });

  it("writes replies in the same framing", () => {
    const encoded = encodeFrame({ ok: true, room: "web" });
    expect(frameReader()(encoded).bodies).toEqual(['{"ok":true,"room":"web"}']);
  });
});

describe("admit", () => {
  it("accepts a valid request the policy allows", () => {
    expect(admit('{"type":"room.status"}', ["room.status"])).toEqual({ ok: true, request: { type: "room.status" } });
  });

  it("refuses what is not JSON, not a known request, has extra fields, or is not allowed", () => {
    expect(admit("{", ["room.status"])).toMatchObject({ ok: false, reply: { error: { code: "malformed" } } });
    expect(admit('{"type":"room.destroy"}', ["room.status"])).toMatchObject({
      ok: false,
      reply: { error: { code: "malformed" } },
    });
    expect(admit('{"type":"room.status","as":"web"}', ["room.status"])).toMatchObject({
      ok: false,
      reply: { error: { code: "malformed" } },
    });
    expect(admit('{"type":"courier.send","path":"/x"}', ["room.status"])).toEqual({
      ok: false,
      reply: { ok: false, error: { code: "not_allowed", message: "this room's policy does not allow courier.send" } },
    });
  });
});
