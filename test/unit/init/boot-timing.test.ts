import { describe, expect, it } from "vitest";
import { bootTiming } from "../../../init/boot-timing.ts";

describe("bootTiming", () => {
  it("splits a boot into the firmware, the kernel, preinit, Bun's start, module evaluation and bay0's duties", () => {
    const firmwareVar = Buffer.concat([Buffer.from([6, 0, 0, 0]), Buffer.from("2500000\0", "utf16le")]);
    expect(
      bootTiming({
        preinit: "1830,2410",
        firmwareVar,
        evaluationStartedMs: 310.4,
        mainStartedMs: 1210.6,
        readyMs: 1650.2,
      }),
    ).toEqual({
      firmware_ms: 2500,
      kernel_ms: 1830,
      preinit_ms: 580,
      bun_start_ms: 310,
      modules_ms: 900,
      duties_ms: 440,
    });
  });

  it("says null for what nothing measured: a direct boot's firmware, an environment without preinit's figures", () => {
    expect(
      bootTiming({ preinit: undefined, firmwareVar: null, evaluationStartedMs: 1, mainStartedMs: 2, readyMs: 3 }),
    ).toMatchObject({ firmware_ms: null, kernel_ms: null, preinit_ms: null });
    expect(
      bootTiming({
        preinit: "x,12",
        firmwareVar: Buffer.from([6, 0, 0, 0]),
        evaluationStartedMs: 1,
        mainStartedMs: 2,
        readyMs: 3,
      }),
    ).toMatchObject({ firmware_ms: null, kernel_ms: null, preinit_ms: null });
  });
});
