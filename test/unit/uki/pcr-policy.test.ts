import { spawnSync } from "node:child_process";
import { createHash, generateKeyPairSync, verify } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { measuredPcr11, pcrSignature, policyPcrDigest } from "../../../uki/pcr-policy.ts";

const SYSTEMD_MEASURE = "/lib/systemd/systemd-measure";
const dir = mkdtempSync(join(tmpdir(), "anchor-pcr-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const privatePem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
const publicPem = publicKey.export({ type: "spki", format: "pem" }).toString();

describe("the signed PCR 11 policy", () => {
  const sections = new Map<string, Uint8Array>([
    [".linux", Buffer.from("a kernel")],
    [".osrel", Buffer.from('ID=anchor\nVERSION_ID="0.1"\n')],
    [".cmdline", Buffer.from("console=ttyS0 quiet")],
    [".initrd", Buffer.from("an initramfs")],
    [".pcrpkey", Buffer.from(publicPem)],
  ]);

  it("predicts the PCR 11 that systemd-measure computes for the same sections (no phase word: bay0 runs no systemd-pcrphase)", () => {
    const flags = [...sections].map(([name, data]) => {
      const file = join(dir, name.slice(1));
      writeFileSync(file, data);
      return `--${name.slice(1)}=${file}`;
    });
    const run = spawnSync(SYSTEMD_MEASURE, ["calculate", ...flags, "--bank=sha256", "--phase=", "--json=short"], {
      encoding: "utf8",
    });
    expect(run.status, run.stderr).toBe(0);
    const expected = (JSON.parse(run.stdout) as { sha256: { pcr: number; hash: string }[] }).sha256[0];
    expect(expected?.pcr).toBe(11);
    expect(measuredPcr11(sections)).toBe(expected?.hash);
  });

  it("measures sections in the stub's fixed order, whatever order they are given in", () => {
    expect(measuredPcr11(new Map([...sections].reverse()))).toBe(measuredPcr11(sections));
    expect(measuredPcr11(new Map([...sections, [".cmdline", Buffer.from("init=/bin/sh")]]))).not.toBe(
      measuredPcr11(sections),
    );
  });

  it("signs the PolicyPCR digest for that value in systemd's JSON, naming the key by its PKCS#1 fingerprint", () => {
    const pcr11 = measuredPcr11(sections);
    const signature = JSON.parse(pcrSignature(pcr11, privatePem)) as {
      sha256: { pcrs: number[]; pkfp: string; pol: string; sig: string }[];
    };
    const [entry] = signature.sha256;
    expect(entry?.pcrs).toEqual([11]);
    expect(entry?.pol).toBe(policyPcrDigest(pcr11));
    const pkcs1 = publicKey.export({ type: "pkcs1", format: "der" });
    expect(entry?.pkfp).toBe(createHash("sha256").update(pkcs1).digest("hex"));
    expect(
      verify("sha256", Buffer.from(entry?.pol ?? "", "hex"), publicKey, Buffer.from(entry?.sig ?? "", "base64")),
    ).toBe(true);
  });

  it("builds PolicyPCR as the TPM does: sha256(zeros || CC_PolicyPCR || one sha256 selection of PCR 11 || sha256(value))", () => {
    const value = "11".repeat(32);
    const command = Buffer.from("0000017f" + "00000001" + "000b" + "03" + "000800", "hex");
    const expected = createHash("sha256")
      .update(Buffer.alloc(32))
      .update(command)
      .update(createHash("sha256").update(Buffer.from(value, "hex")).digest())
      .digest("hex");
    expect(policyPcrDigest(value)).toBe(expected);
  });
});
