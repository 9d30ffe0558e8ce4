/** The vault's prompts that both its dialog at boot (vault/dialog.ts) and bay0's new recovery key (init/vault.ts) ask. */
import type { PromptAnswer, PromptRequest } from "../console/protocol.ts";

const PIN = { minLength: 6, maxLength: 64 } as const;

export type Ask = (request: PromptRequest) => Promise<PromptAnswer>;

/** A secret typed at the prompt; null when the person gives up (Esc). */
export const secret = async (
  ask: Ask,
  title: string,
  label: string,
  length: { minLength: number; maxLength: number } = PIN,
): Promise<string | null> => {
  const answer = await ask({ kind: "secret", title, label, ...length });
  return answer.kind === "secret" ? answer.value : null;
};

/** Only Enter on its one choice ends it: no Esc, no timeout. */
export async function showRecoveryKey(ask: Ask, title: string, key: string): Promise<void> {
  const words = key.split("-");
  await ask({
    kind: "confirm",
    title,
    lines: [
      "Write it down now; it is shown only this once.",
      "It opens the vault if the PIN or the TPM fail.",
      "",
      words.slice(0, 4).join("-"),
      words.slice(4).join("-"),
    ],
    choice: "I have written it down",
  });
}
