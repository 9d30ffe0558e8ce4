import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defineCounterCommand, incrementCommand, parseCounter, readCounterCommand } from "../../../vault/open-counter.ts";

/** A software TPM whose data socket takes raw TPM 2.0 commands, as /dev/tpmrm0 does. */
describe("the TPM's count of vault openings, against swtpm", () => {
  const scratch = mkdtempSync(join(tmpdir(), "anchor-counter-"));
  let swtpm: ChildProcess;
  let socket: Socket;
  const send = (command: Uint8Array): Promise<Buffer> =>
    new Promise((resolve) => {
      socket.once("data", resolve);
      socket.write(command);
    });
  const rc = (reply: Buffer): number => reply.readUInt32BE(6);

  beforeAll(async () => {
    const data = join(scratch, "tpm.sock");
    swtpm = spawn("swtpm", ["socket", "--tpm2", "--tpmstate", `dir=${scratch}`, "--server", `type=unixio,path=${data}`, "--ctrl", `type=unixio,path=${join(scratch, "ctrl.sock")}`, "--flags", "not-need-init,startup-clear"], { stdio: "ignore" });
    for (let i = 0; i < 100 && !existsSync(data); i++) await new Promise((r) => setTimeout(r, 50));
    socket = connect(data);
    await new Promise((resolve) => socket.once("connect", resolve));
  });
  afterAll(() => {
    socket?.end();
    swtpm?.kill();
    rmSync(scratch, { recursive: true, force: true });
  });

  it("is absent until defined and first counted, then goes up by one each time, and cannot be defined twice", async () => {
    expect(parseCounter(await send(readCounterCommand()))).toEqual({ absent: true });
    expect(rc(await send(defineCounterCommand()))).toBe(0);
    expect(parseCounter(await send(readCounterCommand()))).toEqual({ absent: true });
    expect(rc(await send(incrementCommand()))).toBe(0);
    const first = parseCounter(await send(readCounterCommand()));
    expect(first).toEqual({ count: expect.any(Number) });
    expect(rc(await send(incrementCommand()))).toBe(0);
    expect(parseCounter(await send(readCounterCommand()))).toEqual({ count: ("count" in first ? first.count : 0) + 1 });
    expect(rc(await send(defineCounterCommand()))).not.toBe(0);
  });
});

describe("parseCounter", () => {
  it("says why there is no count in a reply that holds none", () => {
    expect(parseCounter(null)).toEqual({ error: "the TPM did not answer" });
    expect(parseCounter(Uint8Array.from([0x80, 0x01, 0, 0, 0, 10, 0, 0, 0x09, 0x22]))).toEqual({ error: "the TPM answered rc 0x922" });
    expect(parseCounter(Uint8Array.from([0x80, 0x02, 0, 0, 0, 10, 0, 0, 0, 0]))).toEqual({ error: "the TPM's reply holds no counter" });
  });
});
