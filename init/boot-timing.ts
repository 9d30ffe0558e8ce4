/**
 * Where a boot's time went, for `boot.timing`: the firmware until the boot
 * loader (LoaderTimeInitUSec, when one set it: systemd-stub 252 does not), the kernel until preinit,
 * preinit (finding, verifying and mounting the system image), Bun's start,
 * the evaluation of bay0's modules and bay0's duties until ready. Each in
 * milliseconds; null where nothing measured it (a direct boot has no
 * firmware figure, the stock kernel's preinit maps nothing).
 */
export type BootTiming = {
  firmware_ms: number | null;
  kernel_ms: number | null;
  preinit_ms: number | null;
  bun_start_ms: number;
  modules_ms: number;
  duties_ms: number;
};

/** `preinit`: ANCHOR_PREINIT_MS ("began,ended" on the kernel's clock); `firmwareVar`: LoaderTimeInitUSec's efivarfs bytes. */
export function bootTiming(clock: {
  preinit: string | undefined;
  firmwareVar: Uint8Array | null;
  evaluationStartedMs: number;
  mainStartedMs: number;
  readyMs: number;
}): BootTiming {
  const [began, ended] = (clock.preinit ?? "").split(",").map((n) => (/^\d+$/.test(n) ? Number(n) : null));
  const firmwareUs =
    clock.firmwareVar === null
      ? ""
      : new TextDecoder("utf-16le").decode(clock.firmwareVar.subarray(4)).replace(/\0+$/, "");
  const round = (ms: number): number => Math.round(ms);
  return {
    firmware_ms: /^\d+$/.test(firmwareUs) ? round(Number(firmwareUs) / 1000) : null,
    kernel_ms: began ?? null,
    preinit_ms: began != null && ended != null ? ended - began : null,
    bun_start_ms: round(clock.evaluationStartedMs),
    modules_ms: round(clock.mainStartedMs - clock.evaluationStartedMs),
    duties_ms: round(clock.readyMs - clock.mainStartedMs),
  };
}
