import { spawnSync } from "node:child_process";
import { createPublicKey, verify } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BASE_CMDLINE, systemPartUuid, systemPin } from "../../uki/cmdline.ts";
import { buildDiskImage } from "../../uki/disk.ts";
import { osRelease } from "../../uki/initramfs.ts";
import { packageVersion, ukiVersion } from "../../uki/version.ts";
import { policyPcrDigest } from "../../uki/pcr-policy.ts";
import { pcrSigningKey, sign, signingKey, SNAKEOIL, verifySignature } from "../../uki/sign.ts";
import { assembleUki } from "../../uki/uki.ts";
import { BUILT_LOADER, builtImages, builtSystem } from "../qemu/probe-image.ts";
import { putOnEsp } from "../qemu/vault-disk.ts";
import { OUT, Vm, type Record } from "../qemu/vm.ts";

/** Firmware + stub + kernel under TCG; a TPM makes the firmware hash the whole image (slow). */
const UEFI_BOOT_MS = 240_000;
const ACCESS_DENIED = /Access Denied/;
const scratch = mkdtempSync(join(tmpdir(), "anchor-uki-test-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** How a test lays out the ESP: `loader` null boots the UKI alone, as images were made before systemd-boot. */
type EspLayout = { loader: string | null; version: string; beside: { name: string; file: string }[] };
const SYSTEMD_BOOT: EspLayout = { loader: BUILT_LOADER, version: packageVersion(), beside: [] };

/**
 * The Anchor disk with `efi` on its ESP for systemd-boot to start (out/anchor.img itself for the built UKI), named
 * by `esp.version`, with the UKIs `esp.beside` next to it in EFI/Linux/.
 */
function diskWith(name: string, efi: string, esp: EspLayout): string {
  if (efi === join(OUT, "anchor.efi")) return join(OUT, "anchor.img");
  const disk = join(scratch, `${name}.img`);
  buildDiskImage({
    output: disk,
    esp: { loader: esp.loader, uki: efi, version: esp.version },
    images: builtImages(),
    system: builtSystem(),
    seed: name,
  });
  for (const { name: file, file: from } of esp.beside) putOnEsp(disk, from, `EFI/Linux/${file}`);
  return disk;
}

/** out/anchor.efi's kernel and initramfs with another command line, signed the same way. */
function variantUki(name: string, extra: string[]): string {
  const unsigned = join(scratch, `${name}-unsigned.efi`);
  const version = packageVersion();
  assembleUki(
    {
      vmlinuz: join(OUT, "vmlinuz"),
      initramfs: join(OUT, "initramfs.img"),
      cmdline: [...BASE_CMDLINE, ...extra].join(" "),
      osRelease: osRelease(version),
      version,
      pcrKey: pcrSigningKey(null, scratch),
    },
    unsigned,
  );
  const efi = join(scratch, `${name}.efi`);
  sign(unsigned, efi, signingKey(null, scratch));
  return efi;
}

async function bootUefi(
  name: string,
  efi: string,
  until: (vm: Vm) => Promise<unknown>,
  esp: EspLayout = SYSTEMD_BOOT,
): Promise<Vm> {
  const vm = await Vm.boot({ name, uefiDisk: diskWith(name, efi, esp), tpm: true, noReboot: true });
  try {
    await until(vm);
  } finally {
    await vm.stop();
  }
  return vm;
}

/** One section of a PE file, as text. */
function section(efi: string, name: string): string {
  const file = join(scratch, `section${name}`);
  const run = spawnSync("objcopy", ["-O", "binary", `--only-section=${name}`, efi, file], { encoding: "utf8" });
  if (run.status !== 0) throw new Error(`objcopy ${name}: ${run.stderr}`);
  return readFileSync(file, "utf8");
}

const pcr = (vm: Vm, index: 7 | 11): string => {
  const record = vm.records.find((r) => r.event === "tpm.pcrs") as
    (Record & { pcrs: { [k: string]: string } }) | undefined;
  const value = record?.pcrs[String(index)];
  if (value === undefined) throw new Error(`no PCR ${index} in ${vm.logFile}`);
  return value;
};
const pcr11 = (vm: Vm): string => pcr(vm, 11);

describe("signed UKI under OVMF with Secure Boot enforced and a TPM", () => {
  let signed: Vm;
  let variant: Vm;

  beforeAll(
    async () => {
      signed = await bootUefi("uki-signed", join(OUT, "anchor.efi"), async (vm) => {
        for (const room of ["web", "work"]) await vm.waitFor("room.started", UEFI_BOOT_MS, (r) => r.room === room);
      });
      // The same kernel and initramfs, another command line, signed the same way.
      const variantEfi = variantUki("variant", [systemPin(builtSystem().verity), "anchor.watchdog_sec=29"]);
      // The image helper logs the PCRs, then the loader, after bay0.ready. This UKI boots alone, without systemd-boot.
      variant = await bootUefi("uki-variant", variantEfi, (vm) => vm.waitFor("image.loader", UEFI_BOOT_MS), {
        ...SYSTEMD_BOOT,
        loader: null,
      });
    },
    2 * UEFI_BOOT_MS + 60_000,
  );

  it("is signed with the snakeoil test key the firmware trusts", () => {
    expect(verifySignature(join(OUT, "anchor.efi"), SNAKEOIL.cert)).toBe(true);
    expect(verifySignature(join(OUT, "build", "anchor-unsigned.efi"), SNAKEOIL.cert)).toBe(false);
  });

  it("boots out/anchor.img with Secure Boot on and starts web and work from its slot-A images partition", () => {
    expect(signed.lines.some((l) => /EFI stub: UEFI Secure Boot is enabled/.test(l))).toBe(true);
    // The UKI's version, and the slot whose system partition its command line pins.
    expect(signed.records.find((r) => r.event === "bay0.ready")).toMatchObject({
      version: ukiVersion(join(OUT, "anchor.efi")),
      slot: "a",
    });
    // The stub reported the ESP it was started from; bay0 found its disk by that, not by guessing.
    expect(signed.records.find((r) => r.event === "image.boot_disk")).toMatchObject({
      disk: "vda",
      how: "loader-partition",
      slot: "/dev/vda2",
    });
    expect(signed.records.filter((r) => r.event === "image.mounted").map((r) => r.image)).toEqual([
      "minimal",
      "workshop",
    ]);
    expect(signed.records.filter((r) => r.event === "room.started").map((r) => r.room)).toEqual(["web", "work"]);
  });

  it("boots through systemd-boot with the same PCR 7 as the UKI alone: a vault sealed before the loader came still opens", () => {
    // systemd-boot chose the UKI the ESP holds by its version; the other disk's UKI started alone.
    expect(signed.records.find((r) => r.event === "image.loader")).toMatchObject({
      loader: expect.stringMatching(/^systemd-boot 252\./),
      stub: expect.stringMatching(/^systemd-stub 252\./),
      entry: `anchor_${ukiVersion(join(OUT, "anchor.efi"))}.efi`,
    });
    expect(variant.records.find((r) => r.event === "image.loader")).toMatchObject({
      loader: null,
      entry: null,
      stub: expect.stringMatching(/^systemd-stub 252\./),
    });
    const seven = pcr(signed, 7);
    expect(seven).toMatch(/^[0-9a-f]{64}$/);
    expect(pcr(variant, 7)).toBe(seven);
  });

  it("runs the hardened kernel: no module support, lockdown in confidentiality mode", () => {
    const hardening = signed.records.find((r) => r.event === "kernel.hardening");
    expect(hardening).toMatchObject({
      modules: "impossible",
      lockdown: "confidentiality",
      kexec: "impossible",
      dev_mem: false,
    });
  });

  it("logs the PCR 11 the stub measured, and it changes with the command line", () => {
    const first = pcr11(signed);
    expect(first).toMatch(/^[0-9a-f]{64}$/);
    expect(first).not.toBe("0".repeat(64));
    expect(variant.records.find((r) => r.event === "watchdog.armed")?.timeout_sec).toBe(29);
    expect(pcr11(variant)).not.toBe(first);
  });

  it("carries in .pcrsig the owner's signed policy for exactly the PCR 11 the stub measured, for either command line", () => {
    for (const [vm, efi] of [
      [signed, join(OUT, "anchor.efi")],
      [variant, join(scratch, "variant.efi")],
    ] as const) {
      const signature = JSON.parse(section(efi, ".pcrsig")) as {
        sha256: { pcrs: number[]; pol: string; sig: string }[];
      };
      const [entry] = signature.sha256;
      expect(entry?.pcrs).toEqual([11]);
      expect(entry?.pol).toBe(policyPcrDigest(pcr11(vm)));
      const key = createPublicKey(section(efi, ".pcrpkey"));
      expect(verify("sha256", Buffer.from(entry?.pol ?? "", "hex"), key, Buffer.from(entry?.sig ?? "", "base64"))).toBe(
        true,
      );
    }
    expect(createPublicKey(section(join(OUT, "anchor.efi"), ".pcrpkey")).export({ type: "spki", format: "pem" })).toBe(
      createPublicKey(readFileSync(SNAKEOIL.cert)).export({ type: "spki", format: "pem" }),
    );
  });
});

describe("the firmware refuses a disk whose UKI is not properly signed", () => {
  it(
    "refuses the UKI with one byte changed, which systemd-boot tried first as the newest version (0.10.0 before 0.9.0)",
    async () => {
      const image = readFileSync(join(OUT, "anchor.efi"));
      const middle = Math.floor(image.length / 2);
      image.writeUInt8((image.readUInt8(middle) ^ 0x01) & 0xff, middle);
      const tampered = join(scratch, "tampered.efi");
      writeFileSync(tampered, image);
      const esp = {
        ...SYSTEMD_BOOT,
        version: "0.10.0",
        beside: [{ name: "anchor_0.9.0.efi", file: join(OUT, "anchor.efi") }],
      };
      const vm = await bootUefi("uki-tampered", tampered, (v) => v.waitForLine(ACCESS_DENIED, UEFI_BOOT_MS), esp);
      expect(vm.lines.find((l) => ACCESS_DENIED.test(l))).toMatch(/anchor_0\.10\.0\.efi/);
      expect(vm.records.some((r) => r.event === "bay0.ready")).toBe(false);
    },
    UEFI_BOOT_MS + 30_000,
  );

  it(
    "refuses the unsigned UKI",
    async () => {
      const vm = await bootUefi("uki-unsigned", join(OUT, "build", "anchor-unsigned.efi"), (v) =>
        v.waitForLine(ACCESS_DENIED, UEFI_BOOT_MS),
      );
      expect(vm.records.some((r) => r.event === "bay0.ready")).toBe(false);
    },
    UEFI_BOOT_MS + 30_000,
  );
});

describe("a UKI that pins another system image than its slot holds", () => {
  it(
    "finds the slot's partition but stops at the kernel's verity error: no code of the slot runs",
    async () => {
      const built = builtSystem().verity;
      const other = `${built.root_hash.slice(0, 63)}${built.root_hash.endsWith("0") ? "1" : "0"}`;
      const efi = variantUki("mismatched", [
        systemPin({ ...built, root_hash: other }, systemPartUuid(built.root_hash)),
      ]);
      const vm = await bootUefi("uki-mismatched", efi, (v) => v.waitForExit(UEFI_BOOT_MS));
      expect(vm.lines.some((l) => /device-mapper: verity: .* block \d+ is corrupted/.test(l))).toBe(true);
      expect(vm.lines.some((l) => /Kernel panic - not syncing: dm-verity device corrupted/.test(l))).toBe(true);
      expect(vm.records.some((r) => r.event === "bay0.ready")).toBe(false);
    },
    UEFI_BOOT_MS + 30_000,
  );
});

describe("a firmware whose Secure Boot is off", () => {
  it(
    "boots the image, and bay0 will not seal a vault to it: the person is told why",
    async () => {
      const vm = await Vm.boot({
        name: "uki-secure-boot-off",
        uefiDisk: join(OUT, "anchor.img"),
        secureBootOff: true,
        tpm: true,
        noReboot: true,
      });
      try {
        const refused = await vm.waitFor("vault.provision_failed", UEFI_BOOT_MS);
        expect(refused).toMatchObject({ step: "secure-boot", error: "Secure Boot is off in the firmware" });
        expect(vm.lines.some((l) => /EFI stub: UEFI Secure Boot is enabled/.test(l))).toBe(false);
        expect(vm.records.some((r) => r.event === "vault.provisioning")).toBe(false);
      } finally {
        await vm.stop();
      }
    },
    UEFI_BOOT_MS + 30_000,
  );
});
