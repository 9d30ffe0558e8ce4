import { describe, expect, it } from "vitest";
import { mountImagesByHelper } from "../../../init/images.ts";
import { createLog, type LogRecord } from "../../../sys/log.ts";
import { memorySink } from "../memory-sink.ts";
import type { ChildExit, ChildStream, Spawner } from "../../../sys/spawn.ts";

/** A spawner whose one child says `lines` and then ends with `exit`. */
function helperSaying(lines: [ChildStream, string][], exit: ChildExit): { spawner: Spawner; argv: string[][] } {
  const argv: string[][] = [];
  const spawner: Spawner = {
    isOwn: () => true,
    spawn: (args, onLine) => {
      argv.push(args);
      for (const [stream, line] of lines) onLine(stream, line);
      return { pid: 7, exited: Promise.resolve(exit) };
    },
  };
  return { spawner, argv };
}

describe("mountImagesByHelper", () => {
  it("starts bay0 in mount-images mode, logs its image, kernel and TPM records as bay0's, and returns its report", async () => {
    const records: LogRecord[] = [];
    const report = {
      mounted: ["minimal"],
      vault: { device: "/dev/vda4", disk: "/dev/vda", number: 4 },
      policies: [{ name: "shell", image: "minimal", command: ["/bin/sh"] }],
      rejected: [],
    };
    const { spawner, argv } = helperSaying(
      [
        [
          "stdout",
          JSON.stringify({ ts: "then", level: "info", event: "image.mounted", image: "minimal", device: "/dev/dm-1" }),
        ],
        ["stdout", JSON.stringify({ ts: "then", level: "info", event: "kernel.hardening", modules: "impossible" })],
        ["stdout", JSON.stringify({ ts: "then", level: "warn", event: "tpm.absent", reason: "no TPM" })],
        ["stdout", JSON.stringify({ ts: "then", level: "info", event: "vault.unlocked", how: "pin" })],
        ["stdout", JSON.stringify({ ts: "then", level: "info", event: "kernel.hardeningx.y" })],
        ["stdout", JSON.stringify(report)],
      ],
      { status: 0, signal: null },
    );
    expect(await mountImagesByHelper(spawner, createLog([memorySink(records)]), () => undefined, "b")).toEqual(report);
    expect(argv).toEqual([["/usr/lib/bay0/bay0", "mount-images", "b"]]);
    // What it saw of the kernel and the TPM too; another concern's event is not its to log.
    expect(records.map((r) => r.event)).toEqual(["image.mounted", "kernel.hardening", "tpm.absent"]);
    expect(records[0]).toMatchObject({ level: "info", event: "image.mounted", image: "minimal", device: "/dev/dm-1" });
    expect(records[0]?.ts).not.toBe("then");
  });

  it("reports a helper that died without a report as image.failed, with its last words", async () => {
    const records: LogRecord[] = [];
    const { spawner } = helperSaying([["stderr", "RangeError: Maximum call stack size exceeded"]], {
      status: null,
      signal: "SIGSEGV",
    });
    expect(await mountImagesByHelper(spawner, createLog([memorySink(records)]), () => undefined, "a")).toBeNull();
    expect(records).toEqual([
      expect.objectContaining({
        level: "error",
        event: "image.failed",
        reason: "the image helper ended (SIGSEGV) without a report: RangeError: Maximum call stack size exceeded",
      }),
    ]);
  });

  it("takes the report as soon as it comes, though the helper has not ended (a disk's read still hangs in it)", async () => {
    const report = { mounted: ["minimal"], vault: null, policies: [], rejected: [] };
    const spawner: Spawner = {
      isOwn: () => true,
      spawn: (_args, onLine) => {
        onLine("stdout", JSON.stringify(report));
        return { pid: 7, exited: new Promise<ChildExit>(() => undefined) };
      },
    };
    expect(await mountImagesByHelper(spawner, createLog([]), () => undefined, "a", 60_000)).toEqual(report);
  });

  it("kills a helper that does not finish in time and goes on without images, saying so", async () => {
    const records: LogRecord[] = [];
    const killed: number[] = [];
    const spawner: Spawner = {
      isOwn: () => true,
      spawn: (_args, onLine) => {
        onLine("stderr", "reading /dev/sdb");
        return { pid: 9, exited: new Promise<ChildExit>(() => undefined) };
      },
    };
    expect(
      await mountImagesByHelper(spawner, createLog([memorySink(records)]), (pid) => void killed.push(pid), "a", 50),
    ).toBeNull();
    expect(killed).toEqual([9]);
    expect(records).toEqual([
      expect.objectContaining({
        event: "image.failed",
        reason: "the image helper did not finish within 0 s and was killed: reading /dev/sdb",
      }),
    ]);
  });
});
