/**
 * The umbilical's protocol: a room's only line to bay0. Frames are a 4-byte
 * big-endian length and that many bytes of UTF-8 JSON, at most 64 KiB; every
 * request is validated, every reply is typed: {"ok":true,…} or
 * {"ok":false,"error":{"code","message"}}. Pure: the umbilical's server
 * (umbilical/serve.ts) speaks it.
 */
import { z } from "zod";
import { UMBILICAL_REQUESTS } from "../policies/schema.ts";
import { refusal, type Refusal, type Reply } from "./channel.ts";

export const MAX_FRAME_BYTES = 65536;

export const requestSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("room.status") }).strict(),
  z.object({ type: z.literal("room.spawn"), policy: z.string().min(1).max(32768) }).strict(),
  z.object({ type: z.literal("courier.send"), path: z.string().min(1).max(4096) }).strict(),
]);
export type UmbilicalRequest = z.infer<typeof requestSchema>;

export function encodeFrame(reply: Reply): Uint8Array {
  const body = new TextEncoder().encode(JSON.stringify(reply));
  const frame = new Uint8Array(4 + body.length);
  new DataView(frame.buffer).setUint32(0, body.length);
  frame.set(body, 4);
  return frame;
}

/**
 * Splits a byte stream into frame bodies; an announced length over the limit
 * ends the stream (`oversized`). `pending` counts the bytes of a frame not yet whole.
 */
export function frameReader(): (chunk: Uint8Array) => { bodies: string[]; oversized: boolean; pending: number } {
  const decoder = new TextDecoder();
  let pending = new Uint8Array(0);
  return (chunk) => {
    const joined = new Uint8Array(pending.length + chunk.length);
    joined.set(pending);
    joined.set(chunk, pending.length);
    const bodies: string[] = [];
    let at = 0;
    while (joined.length - at >= 4) {
      const length = new DataView(joined.buffer, at).getUint32(0);
      if (length > MAX_FRAME_BYTES) return { bodies, oversized: true, pending: 0 };
      if (joined.length - at - 4 < length) break;
      bodies.push(decoder.decode(joined.subarray(at + 4, at + 4 + length)));
      at += 4 + length;
    }
    pending = joined.slice(at);
    return { bodies, oversized: false, pending: pending.length };
  };
}

/** Parses one frame body and checks it against the room's grants: the request, or the reply that refuses it. */
export function admit(
  body: string,
  allow: readonly (typeof UMBILICAL_REQUESTS)[number][],
): { ok: true; request: UmbilicalRequest } | { ok: false; reply: Refusal } {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return { ok: false, reply: refusal("malformed", "the frame is not JSON") };
  }
  const parsed = requestSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return {
      ok: false,
      reply: refusal("malformed", `${issue?.path.join(".") || "request"}: ${issue?.message ?? "invalid"}`),
    };
  }
  if (!allow.includes(parsed.data.type))
    return { ok: false, reply: refusal("not_allowed", `this room's policy does not allow ${parsed.data.type}`) };
  return { ok: true, request: parsed.data };
}
