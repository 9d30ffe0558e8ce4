/**
 * `npm run build`: builds Anchor OS into out/ through named, cached steps.
 * Artifacts (a public interface):
 *   out/vmlinuz         the kernel: the hardened build (kernel/), or Debian's with --stock-kernel
 *   out/initramfs.img   zstd-compressed cpio: preinit alone (with the stock kernel: preinit, the
 *                       system image's files and the modules, since that kernel cannot map it early)
 *   out/anchor.efi      the signed Unified Kernel Image (kernel + initramfs + command line pinning
 *                       the system image by root hash + os-release)
 *   out/esp/            an EFI System Partition tree that boots it: systemd-boot, signed, as
 *                       EFI/BOOT/BOOTX64.EFI, loader/loader.conf, the UKI as EFI/Linux/anchor_VERSION.efi
 *   out/images/system.squashfs the system image (uki/system-image.ts): bay0, crun, policies, the
 *                              vault's tools…, dm-verity hash tree appended
 *   out/images/NAME.squashfs   base images for rooms, dm-verity hash tree appended:
 *                              minimal (busybox), workshop (Debian)
 *   out/images/manifest.json   their verity parameters and places in slot A (the system image carries it)
 *   out/anchor.img      the GPT disk a machine boots: ESP, images and system slots A and B (B
 *                       empty), vault (uki/disk.ts)
 * Options:
 *   --test-hooks        also compile out/test/bay0, bay0 with fault-injection hooks for the tests
 *   --stock-kernel      use Debian's stock kernel (fast fallback; needs modules, weaker hardening)
 *   --keys DIR          sign with the owner's db.key/db.crt from DIR (default: Debian's snakeoil test key)
 *   --out DIR           build into DIR instead of out/ (reproducibility checks)
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildHardenedKernel, kernelCacheKey } from "../kernel/build.ts";
import { compileStaticC, runHostTool } from "./host-tool.ts";
import { findStockKernel, parseShowDepends, STOCK_MODULES } from "../kernel/stock.ts";
import { BASE_CMDLINE, systemPin } from "./cmdline.ts";
import { writeCpio, type CpioEntry } from "./cpio.ts";
import { buildMinimalImage, buildWorkshopImage, hostDebianMirror } from "./images.ts";
import { formatVerity } from "./verity.ts";
import { buildDiskImage, slotManifest, writeEspTree, type VerityImage } from "./disk.ts";
import { hostFile, osRelease, skeleton } from "./initramfs.ts";
import { pcrSigningKey, sign, signingKey, SNAKEOIL } from "./sign.ts";
import { progress, runStep, type Step } from "./steps.ts";
import {
  AUTOSTART,
  buildSystemImage,
  readSystemVerity,
  SYSTEM_SQUASHFS,
  SYSTEM_VERITY_RECORD,
  systemEntries,
  systemInputFiles,
  type SystemVerity,
} from "./system-image.ts";
import { assembleUki, LOADER, STUB } from "./uki.ts";
import { buildOptionsSchema } from "./build-options.ts";
import { ownerUpdateSigner, publicUpdateKeys, testUpdateSigner } from "./update-keys.ts";
import { pinnedKeysText } from "../update/pinned-keys.ts";

const ROOT = join(import.meta.dir, "..");
const ZSTD_LEVEL = "-19";

const cli = buildOptionsSchema(join(ROOT, "out")).safeParse(process.argv.slice(2));
if (!cli.success) {
  process.stderr.write(`[build] ${cli.error.issues.map((i) => i.message).join("; ")}\n`);
  process.exit(2);
}
const { out: OUT, testHooks, stockKernel, keys, version } = cli.data;
const WORK = join(OUT, "build");

const paths = {
  vmlinuz: join(OUT, "vmlinuz"),
  initramfs: join(OUT, "initramfs.img"),
  uki: join(OUT, "anchor.efi"),
  esp: join(OUT, "esp"),
  loader: join(OUT, "esp", "EFI", "BOOT", "BOOTX64.EFI"),
  preinit: join(WORK, "preinit"),
  bay0: join(WORK, "bay0"),
  cpio: join(WORK, "initramfs.cpio"),
  unsignedUki: join(WORK, "anchor-unsigned.efi"),
  systemImage: join(OUT, "images", "system.squashfs"),
  systemVerity: join(OUT, SYSTEM_VERITY_RECORD),
  testBay0: join(OUT, "test", "bay0"),
  testSystemImage: join(OUT, "test", "system.squashfs"),
  testSystemVerity: join(OUT, "test", "system.json"),
  minimalImage: join(OUT, "images", "minimal.squashfs"),
  workshopImage: join(OUT, "images", "workshop.squashfs"),
  imageManifest: join(OUT, "images", "manifest.json"),
  disk: join(OUT, "anchor.img"),
};

/** The rooms' images, each with its verity parameters. */
const VERITY_RECORD = join(WORK, "verity.json");

const builtImages = (): VerityImage[] => {
  const verity = JSON.parse(readFileSync(VERITY_RECORD, "utf8")) as Record<string, VerityImage["verity"]>;
  return Object.entries(verity).map(([name, entry]) => ({
    name,
    file: join(OUT, "images", `${name}.squashfs`),
    verity: entry,
  }));
};

const systemVerity = (): SystemVerity => readSystemVerity(OUT);

/**
 * Every file of ours that bay0's executable is built from, its helpers' included: the bundler's own list,
 * so a new folder can never be left out of the step's inputs.
 */
async function bay0Sources(): Promise<string[]> {
  const build = await Bun.build({ entrypoints: [join(ROOT, "init", "main.ts")], target: "bun", metafile: true });
  if (!build.success) throw new Error(`bundling bay0 failed: ${build.logs.join("\n")}`);
  const { inputs } = (build as unknown as { metafile: { inputs: Record<string, unknown> } }).metafile;
  return Object.keys(inputs)
    .filter((file) => !file.startsWith("node_modules/"))
    .map((file) => join(ROOT, file));
}

const stock = stockKernel ? findStockKernel() : null;
const bunVersion = runHostTool([process.execPath, "--version"]).trim();
const bay0Inputs = { files: [...(await bay0Sources()), join(ROOT, "package-lock.json")], values: [bunVersion] };

function compileBay0(outfile: string, hooks: boolean): void {
  runHostTool([
    process.execPath,
    "build",
    "--compile",
    "--minify",
    "--bytecode",
    "--define",
    `ANCHOR_TEST_HOOKS=${hooks}`,
    join(ROOT, "init", "main.ts"),
    "--outfile",
    outfile,
  ]);
}

/** The system image (or, for the stock kernel, its files) of `bay0`, with the built manifest. */
/** The update keys the image will trust: the owner's, or in a test build the test keys. */
const updateKeys = ((): string => {
  try {
    return pinnedKeysText(publicUpdateKeys(keys ? ownerUpdateSigner(keys) : testUpdateSigner()));
  } catch (error) {
    process.stderr.write(`[build] ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  }
})();
/** The certificate the build signs with, which the image pins for its updates' UKIs. */
const dbCert = keys ? join(keys, "db.crt") : SNAKEOIL.cert;
const systemOf = (bay0: string): CpioEntry[] =>
  systemEntries({ bay0, imageManifest: paths.imageManifest, version, updateKeys, dbCert });

/** The system image and its verity record. */
function packSystem(bay0: string, image: string, record: string): void {
  const verity = buildSystemImage(systemOf(bay0), image);
  writeFileSync(record, JSON.stringify(verity));
  progress("system", `${image}: ${(verity.size / 1048576).toFixed(1)} MiB, verity root hash ${verity.root_hash}`);
}

function stockModules(): string[] {
  if (stock === null) return [];
  return [
    ...new Set(
      STOCK_MODULES.flatMap((m) =>
        parseShowDepends(runHostTool(["modprobe", "-S", stock.version, "--show-depends", m])),
      ),
    ),
  ];
}

function buildUki(): void {
  const scratch = mkdtempSync(join(tmpdir(), "anchor-uki-key-"));
  try {
    const pcrKey = pcrSigningKey(keys, scratch);
    const cmdline = [...BASE_CMDLINE, ...(stock ? [] : [systemPin(systemVerity())])].join(" ");
    assembleUki(
      { vmlinuz: paths.vmlinuz, initramfs: paths.initramfs, cmdline, osRelease: osRelease(version), version, pcrKey },
      paths.unsignedUki,
    );
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function signUki(): void {
  const scratch = mkdtempSync(join(tmpdir(), "anchor-sign-"));
  try {
    const key = signingKey(keys, scratch);
    progress("sign", `signing with the ${key.owner === "owner" ? "owner's" : "snakeoil test"} key ${key.cert}`);
    sign(paths.unsignedUki, paths.uki, key);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

const steps: Step[] = [
  {
    name: "kernel",
    inputs: stock
      ? { files: [stock.vmlinuz], values: ["stock", stock.version] }
      : { files: [], values: ["hardened", kernelCacheKey()] },
    outputs: [paths.vmlinuz],
    run: async () => copyFileSync(stock ? stock.vmlinuz : (await buildHardenedKernel()).bzImage, paths.vmlinuz),
  },
  {
    name: "preinit",
    inputs: { files: [join(ROOT, "init", "preinit.c")], values: [runHostTool(["gcc", "--version"])] },
    outputs: [paths.preinit],
    run: () => {
      compileStaticC(paths.preinit, join(ROOT, "init", "preinit.c"));
    },
  },
  {
    name: "bay0",
    inputs: { ...bay0Inputs, values: [...bay0Inputs.values, "release"] },
    outputs: [paths.bay0],
    run: () => compileBay0(paths.bay0, false),
  },
  {
    name: "images",
    inputs: {
      files: [
        "/bin/busybox",
        join(ROOT, "umbilical", "anchorctl.c"),
        ...["images.ts", "verity.ts", "disk.ts"].map((f) => join(ROOT, "uki", f)),
      ],
      values: [],
    },
    outputs: [paths.minimalImage, paths.workshopImage, join(WORK, "verity.json")],
    run: () => {
      buildMinimalImage(paths.minimalImage);
      progress("images", "workshop: debootstrap of Debian 12 minbase (about a minute)");
      buildWorkshopImage(paths.workshopImage, hostDebianMirror());
      const verity = { minimal: formatVerity(paths.minimalImage), workshop: formatVerity(paths.workshopImage) };
      writeFileSync(join(WORK, "verity.json"), JSON.stringify(verity));
    },
  },
  {
    name: "manifest",
    inputs: { files: [VERITY_RECORD, join(ROOT, "uki", "disk.ts")], values: [] },
    outputs: [paths.imageManifest],
    run: () => {
      const manifest = slotManifest(builtImages());
      writeFileSync(paths.imageManifest, `${JSON.stringify(manifest, null, 2)}\n`);
      for (const [name, entry] of Object.entries(manifest))
        progress("images", `${name}: verity root hash ${entry.root_hash}`);
    },
  },
  // The stock kernel cannot map the system image early: its initramfs carries the files instead.
  ...(stock
    ? []
    : [
        {
          name: "system",
          inputs: {
            files: [paths.bay0, paths.imageManifest, dbCert, ...systemInputFiles()],
            values: [version, updateKeys, ...SYSTEM_SQUASHFS, ...AUTOSTART],
          },
          outputs: [paths.systemImage, paths.systemVerity],
          run: () => packSystem(paths.bay0, paths.systemImage, paths.systemVerity),
        },
      ]),
  {
    name: "initramfs",
    inputs: {
      files: [paths.preinit, ...(stock ? [paths.bay0, paths.imageManifest, dbCert, ...systemInputFiles()] : [])],
      values: [stock?.version ?? "hardened", version, updateKeys, ZSTD_LEVEL, ...STOCK_MODULES, ...AUTOSTART],
    },
    outputs: [paths.initramfs],
    run: () => {
      const modules = stockModules();
      // The hardened kernel maps the system image before preinit runs; the stock one gets its files here (and no pin).
      if (stock) rmSync(paths.systemVerity, { force: true });
      const system = stock ? systemOf(paths.bay0) : [];
      progress(
        "initramfs",
        stock ? `the system's ${system.length} files and ${modules.length} modules` : "preinit alone",
      );
      const entries: CpioEntry[] = [
        ...skeleton(),
        hostFile(paths.preinit, 0o755, "init"),
        ...system,
        ...modules.map((m) => hostFile(m, 0o644)),
        ...(modules.length > 0
          ? [
              {
                kind: "file" as const,
                path: "lib/modules/anchor.order",
                mode: 0o644,
                data: Buffer.from(`${modules.join("\n")}\n`),
              },
            ]
          : []),
      ];
      writeFileSync(paths.cpio, writeCpio(entries));
      runHostTool(["zstd", ZSTD_LEVEL, "-T0", "-q", "-f", "--check", paths.cpio, "-o", paths.initramfs]);
    },
  },
  {
    name: "uki",
    inputs: {
      files: [
        paths.vmlinuz,
        paths.initramfs,
        STUB,
        // The .osrel text (osRelease) and the sections' assembly.
        ...["initramfs.ts", "uki.ts", "pcr-policy.ts"].map((f) => join(ROOT, "uki", f)),
        ...(stock ? [] : [paths.systemVerity]),
        ...(keys ? [join(keys, "pcr.key")] : []),
      ],
      values: [version, ...BASE_CMDLINE, keys ?? "snakeoil", "pcrsig"],
    },
    outputs: [paths.unsignedUki],
    run: buildUki,
  },
  {
    name: "sign",
    inputs: {
      files: keys ? [paths.unsignedUki, join(keys, "db.crt")] : [paths.unsignedUki],
      values: [keys ?? "snakeoil"],
    },
    outputs: [paths.uki],
    run: signUki,
  },
  {
    name: "esp",
    inputs: {
      files: [paths.uki, LOADER, join(ROOT, "uki", "disk.ts"), ...(keys ? [join(keys, "db.crt")] : [])],
      values: [version, keys ?? "snakeoil"],
    },
    outputs: [
      paths.loader,
      join(paths.esp, "loader", "loader.conf"),
      join(paths.esp, "EFI", "Linux", `anchor_${version}.efi`),
    ],
    run: () => {
      const scratch = mkdtempSync(join(tmpdir(), "anchor-loader-"));
      try {
        const signed = join(scratch, "BOOTX64.EFI");
        sign(LOADER, signed, signingKey(keys, scratch));
        writeEspTree(paths.esp, { loader: signed, uki: paths.uki, version });
      } finally {
        rmSync(scratch, { recursive: true, force: true });
      }
    },
  },
  {
    name: "disk",
    inputs: {
      files: [
        paths.uki,
        paths.loader,
        paths.imageManifest,
        paths.minimalImage,
        paths.workshopImage,
        ...(stock ? [] : [paths.systemImage]),
        join(ROOT, "uki", "disk.ts"),
      ],
      values: [],
    },
    outputs: [paths.disk],
    run: () => {
      const system = stock ? null : { file: paths.systemImage, verity: systemVerity() };
      buildDiskImage({
        output: paths.disk,
        esp: { loader: paths.loader, uki: paths.uki, version },
        images: builtImages(),
        system,
        seed: readFileSync(paths.imageManifest, "utf8"),
      });
    },
  },
];

const testSteps: Step[] = [
  {
    name: "bay0-test",
    inputs: { ...bay0Inputs, values: [...bay0Inputs.values, "test-hooks"] },
    outputs: [paths.testBay0],
    run: () => compileBay0(paths.testBay0, true),
  },
  {
    name: "system-test",
    inputs: {
      files: [paths.testBay0, paths.imageManifest, dbCert, ...systemInputFiles()],
      values: [version, updateKeys, ...SYSTEM_SQUASHFS, ...AUTOSTART],
    },
    outputs: [paths.testSystemImage, paths.testSystemVerity],
    run: () => packSystem(paths.testBay0, paths.testSystemImage, paths.testSystemVerity),
  },
];

async function main(): Promise<void> {
  mkdirSync(WORK, { recursive: true });
  for (const step of testHooks ? [...steps, ...testSteps] : steps) await runStep(step, join(WORK, "stamps"));
  progress(
    "done",
    `${paths.uki} (${(statSync(paths.uki).size / 1048576).toFixed(1)} MiB), ${paths.vmlinuz}, ${paths.initramfs}`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`[build] failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
