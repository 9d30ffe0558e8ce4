import { spawnSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LOADER } from "../../../uki/uki.ts";
import { sign, signingKey, SNAKEOIL } from "../../../uki/sign.ts";
import { signerProblem } from "../../../update/uki-signer.ts";

const scratch = mkdtempSync(join(tmpdir(), "anchor-signer-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const der = (pem: string): Uint8Array => new X509Certificate(readFileSync(pem)).raw;

describe("a UKI's signer, before it is installed", () => {
  it("finds the certificate sbsign embedded, and tells an unsigned image, another signer and a cut table apart", () => {
    // systemd-boot stands in for a UKI: a PE image sbsign signs the same way.
    const signed = join(scratch, "signed.efi");
    sign(LOADER, signed, signingKey(null, scratch));
    const image = new Uint8Array(readFileSync(signed));
    expect(signerProblem(image, der(SNAKEOIL.cert))).toBeNull();
    const other = join(scratch, "other.pem");
    const made = spawnSync(
      "openssl",
      [
        "req",
        "-new",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=other/",
        "-keyout",
        join(scratch, "other.key"),
        "-out",
        other,
      ],
      { encoding: "utf8" },
    );
    expect(made.status, made.stderr).toBe(0);
    expect(signerProblem(image, der(other))).toBe("signed with another certificate");
    expect(signerProblem(new Uint8Array(readFileSync(LOADER)), der(SNAKEOIL.cert))).toBe("unsigned");
    expect(signerProblem(image.subarray(0, image.length - 100), der(SNAKEOIL.cert))).toBe(
      "its certificate table runs past its end",
    );
    writeFileSync(join(scratch, "text.efi"), "not a PE");
    expect(signerProblem(new Uint8Array(readFileSync(join(scratch, "text.efi"))), der(SNAKEOIL.cert))).toBe(
      "not a PE image (no MZ)",
    );
  });
});
