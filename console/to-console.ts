/**
 * What bay0 says to the trusted console helper (console/protocol.ts has the
 * rest): the helper parses it with these schemas; bay0 only types its
 * messages with them (a type-only import, so none of this is in PID 1).
 */
import { z } from "zod";
import { promptRequestSchema, roomName, text } from "./protocol.ts";

export const roomSnapshotSchema = z.object({
  id: roomName,
  started: z.boolean(),
  frozen: z.boolean(),
  uptimeMs: z.number(),
  /** Its cgroup node below /sys/fs/cgroup: the helper reads the room's usage there. */
  node: z.string().max(400),
});
export type RoomSnapshot = z.infer<typeof roomSnapshotSchema>;

/** A log record the dashboard shows (recent events, how a room ended): bay0 sends these fields of those events only. */
export const shownRecordSchema = z.object({
  event: text(64),
  ts: text(40),
  room: roomName.optional(),
  status: z.number().nullable().optional(),
  signal: z.string().max(16).nullable().optional(),
});
export type ShownRecord = z.infer<typeof shownRecordSchema>;
export const toConsoleSchema = z.discriminatedUnion("type", [
  /** The framebuffer, opened by bay0 (its fd sent just before), with what became of the kernel's VT; or why there is none. */
  z.object({ type: z.literal("screen"), device: text(64), vt: text(80) }),
  z.object({ type: z.literal("no-screen"), reason: text(300) }),
  /** An input device bay0 opened (its fd sent just before): the helper grabs and reads it. */
  z.object({ type: z.literal("input"), device: text(64) }),
  z.object({
    type: z.literal("state"),
    rooms: z.array(roomSnapshotSchema).max(256),
    policies: z.array(roomName).max(256),
    vault: text(80),
    watchdog: text(80),
  }),
  z.object({ type: z.literal("record"), record: shownRecordSchema }),
  z.object({ type: z.literal("ask"), id: z.number().int(), request: promptRequestSchema }),
  z.object({ type: z.literal("terminal"), room: roomName }),
  z.object({ type: z.literal("acted"), id: z.number().int(), reason: text(300).nullable() }),
]);
export type ToConsole = z.infer<typeof toConsoleSchema>;
