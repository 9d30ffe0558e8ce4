/**
 * `npx bun uki/keys.ts DIR`: makes an owner's Secure Boot keys for a real device.
 * Writes PK, KEK and db key pairs (db.key/db.crt sign Anchor OS: pass
 * `--keys DIR` to the build), pcr.key (signs the PCR 11 policy that the vault
 * is sealed to, so a new UKI from the same owner unseals it), the update keys (update-ed25519.key and
 * update-mldsa65.seed: `npm run bundle -- --keys DIR` signs with both), and the signed EFI signature lists to enroll
 * in the firmware while it is in Setup Mode (PK.auth last: it ends Setup Mode):
 *   efi-updatevar -f db.auth db; efi-updatevar -f KEK.auth KEK; efi-updatevar -f PK.auth PK
 * or load them with the firmware's own key manager or KeyTool.
 */
import { generateKeyPairSync, randomBytes, randomUUID } from "node:crypto";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { z } from "zod";
import { runHostTool } from "./host-tool.ts";
import { UPDATE_KEY_FILES } from "./update-keys.ts";

const args = z.tuple([z.string().min(1, "give the folder to write the keys into")]).safeParse(process.argv.slice(2));
if (!args.success) {
  process.stderr.write("usage: npx bun uki/keys.ts DIR\n");
  process.exit(2);
}
const dir = resolve(args.data[0]);

/** The update keys (uki/update-keys.ts): bundles are signed with both, and an image trusts only bundles both signed. */
function writeUpdateKeys(): void {
  const ed25519 = generateKeyPairSync("ed25519").privateKey.export({ format: "pem", type: "pkcs8" });
  writeFileSync(join(dir, UPDATE_KEY_FILES.ed25519), ed25519, { mode: 0o600, flag: "wx" });
  writeFileSync(join(dir, UPDATE_KEY_FILES.mldsa65), `${randomBytes(32).toString("hex")}\n`, {
    mode: 0o600,
    flag: "wx",
  });
}

if (existsSync(join(dir, "PK.key"))) {
  // Keys made before updates existed: the update keys are added, nothing there is touched.
  if (Object.values(UPDATE_KEY_FILES).some((name) => existsSync(join(dir, name)))) {
    process.stderr.write(`keys: ${dir} already holds keys; refusing to overwrite them\n`);
    process.exit(1);
  }
  writeUpdateKeys();
  process.stdout.write(
    `keys: ${dir} held Secure Boot keys but no update keys: added ${Object.values(UPDATE_KEY_FILES).join(" and ")}\n`,
  );
  process.exit(0);
}
mkdirSync(dir, { recursive: true, mode: 0o700 });

const run = (argv: string[]): void => {
  try {
    runHostTool(argv, { cwd: dir });
  } catch (error) {
    process.stderr.write(`keys: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
};

const owner = randomUUID();
writeFileSync(join(dir, "owner.guid"), `${owner}\n`);
for (const name of ["PK", "KEK", "db"]) {
  run([
    "openssl",
    "req",
    "-new",
    "-x509",
    "-newkey",
    "rsa:3072",
    "-nodes",
    "-sha256",
    "-days",
    "3650",
    "-subj",
    `/CN=Anchor OS owner ${name}/`,
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.crt`,
  ]);
  run(["cert-to-efi-sig-list", "-g", owner, `${name}.crt`, `${name}.esl`]);
}
// The vault's PCR 11 policy is signed with RSA 2048: RSA 4096 fails to unseal on real TPMs (systemd#35448).
run(["openssl", "genrsa", "-out", "pcr.key", "2048"]);
writeUpdateKeys();
// Each list is signed by the key one level up; PK signs itself.
run(["sign-efi-sig-list", "-g", owner, "-k", "PK.key", "-c", "PK.crt", "PK", "PK.esl", "PK.auth"]);
run(["sign-efi-sig-list", "-g", owner, "-k", "PK.key", "-c", "PK.crt", "KEK", "KEK.esl", "KEK.auth"]);
run(["sign-efi-sig-list", "-g", owner, "-k", "KEK.key", "-c", "KEK.crt", "db", "db.esl", "db.auth"]);
process.stdout.write(
  `keys: written to ${dir}\n  build with: npm run build -- --keys ${dir}\n  enroll db.auth, KEK.auth, then PK.auth in Setup Mode\n`,
);
