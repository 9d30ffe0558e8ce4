import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  defineCounterCommand,
  incrementCommand,
  parseCounter,
  readCounterCommand,
} from "../../../vault/open-counter.ts";
import { startSocketTpm, type SocketTpm } from "../../qemu/swtpm.ts";

describe("the TPM's count of vault openings, against swtpm", () => {
  let tpm: SocketTpm;
  const send = (command: Uint8Array): Promise<Buffer> => tpm.send(command);
  const rc = (reply: Buffer): number => reply.readUInt32BE(6);
  beforeAll(async () => {
    tpm = await startSocketTpm();
  });
  afterAll(() => tpm?.stop());

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
    expect(parseCounter(Uint8Array.from([0x80, 0x01, 0, 0, 0, 10, 0, 0, 0x09, 0x22]))).toEqual({
      error: "the TPM answered rc 0x922",
    });
    expect(parseCounter(Uint8Array.from([0x80, 0x02, 0, 0, 0, 10, 0, 0, 0, 0]))).toEqual({
      error: "the TPM's reply holds no counter",
    });
  });
});
