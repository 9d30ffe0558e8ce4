/**
 * What the recovery-key helper (vault/rekey.ts) reads before it acts: the
 * open vault's volume key in its dm-crypt table, and which keyslots hold
 * recovery keys in the LUKS2 metadata. Pure, so tests need no vault.
 */
import { z } from "zod";
import { StepFailed } from "./provision.ts";
import { parseJsonOrNull } from "../sys/files.ts";

/**
 * The volume key in a dm-crypt table line (`cipher key iv_offset device
 * offset …`), or why it is not there: a key kept in the kernel's keyring
 * shows as `:size:type:description`, which Anchor OS's kernel (no KEYS)
 * never makes.
 */
export function cryptVolumeKey(params: string): Buffer | string {
  const key = params.split(" ")[1] ?? "";
  if (key.startsWith(":")) return "the volume key is in the kernel's keyring";
  if (!/^([0-9a-f]{2}){16,128}$/.test(key)) return "the device-mapper table holds no volume key";
  return Buffer.from(key, "hex");
}

const luks2Schema = z
  .object({
    tokens: z.record(z.string(), z.object({ type: z.string(), keyslots: z.array(z.string()).max(32) }).passthrough()),
  })
  .passthrough();

/** The keyslots of the vault's recovery keys (systemd-recovery tokens), from `cryptsetup luksDump --dump-json-metadata`. */
export function recoverySlots(json: string): string[] {
  const parsed = luks2Schema.safeParse(parseJsonOrNull(json));
  if (!parsed.success) throw new StepFailed("metadata", "the vault's LUKS2 metadata is not what cryptsetup writes");
  return Object.values(parsed.data.tokens)
    .filter((token) => token.type === "systemd-recovery")
    .flatMap((token) => token.keyslots)
    .filter((slot) => /^\d+$/.test(slot));
}
