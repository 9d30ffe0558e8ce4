import { describe, expect, it } from "vitest";
import { typeSecret } from "../../qemu/keyboard.ts";

/** bay0's masked prompt as the test sees it, over a keyboard that drops the 11th key and repeats the 30th once. */
function flakyPrompt(): { vm: { sendKeys(keys: string[]): Promise<unknown> }; screen: { text(): Promise<string[]> }; typed: string[] } {
  const typed: string[] = [];
  let keys = 0;
  const vm = {
    sendKeys: async ([key = ""]: string[]): Promise<unknown> => {
      keys += 1;
      if (key === "ret") typed.push("<ret>");
      else if (key === "backspace") typed.pop();
      else if (keys !== 11) typed.push(key === "minus" ? "-" : key);
      if (keys === 30) typed.push(key);
      return {};
    },
  };
  const screen = {
    text: async (): Promise<string[]> => {
      const n = typed.filter((t) => t !== "<ret>").length;
      return [n > 41 ? `Recovery key: (${n}) ${"\u2022".repeat(36)}_` : `Recovery key: ${"\u2022".repeat(n)}_`];
    },
  };
  return { vm, screen, typed };
}

describe("typing a secret at the VM's keyboard", () => {
  it("types again from a piece's start when a key was lost or repeated, and ends with exactly the secret and Enter", async () => {
    const key = "abcdefgh-ijklmnop-qrstuvwx-yzabcdef-ghijklmn-opqrstuv-wxyzabcd-efghijkl";
    const { vm, screen, typed } = flakyPrompt();
    await typeSecret(vm, screen, "Recovery key", key);
    expect(typed.join("")).toBe(`${key}<ret>`);
  }, 60_000);
});
