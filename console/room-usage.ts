/**
 * What a room uses now, read by the console helper from the room's cgroup
 * node (whose usage files anyone may read) each time the dashboard is drawn:
 * bay0 names the node, the helper reads the kernel's counts itself.
 */
import { readTextOrNull } from "../sys/files.ts";

/** Null where the kernel offers no such file. */
export type RoomUsage = {
  memoryCurrent: number | null;
  memoryMax: number | null;
  pids: number | null;
  cpuUsec: number | null;
};

const numberIn = (text: string | null): number | null => {
  const n = text === null ? Number.NaN : Number(text.trim());
  return Number.isFinite(n) ? n : null;
};

/** `node` below /sys/fs/cgroup, as bay0 named it. */
export function roomUsage(node: string, read: (path: string) => string | null = readTextOrNull): RoomUsage {
  const at = (file: string): string | null => read(`/sys/fs/cgroup${node}/${file}`);
  const cpu = /^usage_usec (\d+)$/m.exec(at("cpu.stat") ?? "")?.[1];
  return {
    memoryCurrent: numberIn(at("memory.current")),
    memoryMax: numberIn(at("memory.max")),
    pids: numberIn(at("pids.current")),
    cpuUsec: cpu === undefined ? null : Number(cpu),
  };
}
