import { describe, expect, it } from "vitest";
import { chooseChoice, typeSecret } from "../../qemu/keyboard.ts";

/** bay0's masked prompt as the test sees it, over a keyboard that drops the 11th key and repeats the 30th once. */
function flakyPrompt(): {
  vm: { sendKeys(keys: string[]): Promise<unknown> };
  screen: { text(): Promise<string[]> };
  typed: string[];
} {
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
      return [
        n > 41 ? `Recovery key: (${n}) ${"\u2022".repeat(36)}_` : `Recovery key: ${"\u2022".repeat(n)}_`,
        "Enter to confirm, Esc to cancel",
      ];
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

/** bay0's choice prompt drawn in its box over a dashboard line that has a ">" of its own, over a keyboard that drops the first arrow key. */
function flakyChoice(): {
  vm: { sendKeys(keys: string[]): Promise<unknown> };
  screen: { text(): Promise<string[]> };
  answer: () => string | null;
} {
  const choices = ["Deny", "Deliver to courier-inbox: /inbox", "Deliver to work: /inbox"];
  let selected = 0;
  let answer: string | null = null;
  let arrows = 0;
  const vm = {
    sendKeys: async ([key = ""]: string[]): Promise<unknown> => {
      if (key === "down" || key === "up") arrows += 1;
      if (key === "down" && arrows > 1) selected = Math.min(choices.length - 1, selected + 1);
      if (key === "up") selected = Math.max(0, selected - 1);
      if (key === "ret") answer = choices[selected] ?? null;
      return {};
    },
  };
  const box = (text: string): string => `  > web    ${`  ${text}`.padEnd(60)}  `;
  const screen = {
    text: async (): Promise<string[]> => [
      box("Deliver to work: /inbox and more?"),
      box(""),
      ...choices.map((c, i) => box(`${i === selected ? ">" : " "} ${c}`)),
      box(""),
      box("> web"),
      box("Enter to choose"),
    ],
  };
  return { vm, screen, answer: () => answer };
}

describe("choosing at the VM's keyboard", () => {
  it("presses the arrow keys until the wanted choice is the marked one, then Enter", async () => {
    const { vm, screen, answer } = flakyChoice();
    await chooseChoice(vm, screen, "Deliver to work: /inbox");
    expect(answer()).toBe("Deliver to work: /inbox");
  }, 60_000);
});
