import { spawn } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../../qemu/paths.ts";

/**
 * A vault helper's side of its dialog (vault/dialog.ts talkToBay0) in a Bun
 * process of its own, with this test as bay0: it reads the helper's prompt,
 * answers it, and keeps the helper's stdin open, as bay0 does.
 */
const script = `
  import { talkToBay0 } from ${JSON.stringify(join(ROOT, "vault", "dialog.ts"))};
  const { ask, say, log, end } = talkToBay0();
  const answer = await ask({ kind: "secret", title: "Vault: unlock", label: "PIN", minLength: 6, maxLength: 64 });
  log.info("vault.test", { kind: answer.kind });
  say({ rekeyed: answer.kind === "secret" ? null : "?" });
  try {
    await ask({ kind: "secret", title: "Vault: again", label: "PIN", minLength: 6, maxLength: 64 });
  } catch (error) {
    say({ rekeyed: String(error) });
  }
  end();
`;

describe("a vault helper's talk with bay0", () => {
  it("asks bay0 to show a prompt, takes the answer from stdin, refuses one out of shape, and ends while bay0 keeps stdin open", async () => {
    const helper = spawn(join(ROOT, "node_modules", ".bin", "bun"), ["-e", script], {
      cwd: ROOT,
      stdio: ["pipe", "pipe", "inherit"],
    });
    const lines: unknown[] = [];
    let pending = "";
    helper.stdout.on("data", (chunk: Buffer) => {
      pending += chunk.toString("utf8");
      for (let at = pending.indexOf("\n"); at >= 0; at = pending.indexOf("\n")) {
        const line = JSON.parse(pending.slice(0, at)) as { prompt?: { title: string } };
        pending = pending.slice(at + 1);
        lines.push(line);
        if (line.prompt?.title === "Vault: unlock")
          helper.stdin.write(`${JSON.stringify({ answer: { kind: "secret", value: "kestrel42" } })}\n`);
        if (line.prompt?.title === "Vault: again") helper.stdin.write(`${JSON.stringify({ answer: { kind: "x" } })}\n`);
      }
    });
    const status = await new Promise((resolve) => helper.on("exit", resolve));
    helper.stdin.end();
    expect(status).toBe(0);
    expect(lines).toEqual([
      { prompt: { kind: "secret", title: "Vault: unlock", label: "PIN", minLength: 6, maxLength: 64 } },
      expect.objectContaining({ event: "vault.test", kind: "secret" }),
      { rekeyed: null },
      { prompt: expect.objectContaining({ title: "Vault: again" }) },
      { rekeyed: expect.stringMatching(/^Error: a bad answer/) },
    ]);
    expect(JSON.stringify(lines)).not.toContain("kestrel42");
  }, 30_000);
});
