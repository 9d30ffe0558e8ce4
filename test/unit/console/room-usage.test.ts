import { describe, expect, it } from "vitest";
import { roomUsage } from "../../../console/room-usage.ts";

describe("roomUsage", () => {
  it("reads a room's memory, pids and CPU time from the node bay0 named, null where a file is missing or odd", () => {
    const files: Record<string, string> = {
      "/sys/fs/cgroup/rooms/web/memory.current": "2412544\n",
      "/sys/fs/cgroup/rooms/web/memory.max": "max\n",
      "/sys/fs/cgroup/rooms/web/cpu.stat": "usage_usec 81234\nuser_usec 50000\n",
    };
    expect(roomUsage("/rooms/web", (path) => files[path] ?? null)).toEqual({
      memoryCurrent: 2412544,
      memoryMax: null,
      pids: null,
      cpuUsec: 81234,
    });
  });
});
