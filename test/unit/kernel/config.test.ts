import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { droppedOptions, parseKernelConfig } from "../../../kernel/config.ts";

describe("parseKernelConfig", () => {
  it("reads set values, strings and 'is not set' lines, ignoring other comments", () => {
    const config = parseKernelConfig(
      '# a comment\nCONFIG_A=y\nCONFIG_B=8\nCONFIG_LSM="lockdown,yama"\n# CONFIG_MODULES is not set\n',
    );
    expect([...config]).toEqual([
      ["CONFIG_A", "y"],
      ["CONFIG_B", "8"],
      ["CONFIG_LSM", '"lockdown,yama"'],
      ["CONFIG_MODULES", "n"],
    ]);
  });
});

describe("droppedOptions", () => {
  it("names every option whose final value differs, treating absent as n", () => {
    const fragment = parseKernelConfig("CONFIG_A=y\nCONFIG_B=y\n# CONFIG_C is not set\n# CONFIG_D is not set\n");
    const final = parseKernelConfig("CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=y\n");
    expect(droppedOptions(fragment, final)).toEqual([
      { option: "CONFIG_B", wanted: "y", got: "n" },
      { option: "CONFIG_C", wanted: "n", got: "y" },
    ]);
  });

  it("the shipped fragment forbids modules and forces lockdown confidentiality", () => {
    const fragment = parseKernelConfig(
      readFileSync(join(import.meta.dirname, "../../../kernel/hardened.config"), "utf8"),
    );
    expect(fragment.get("CONFIG_MODULES")).toBe("n");
    expect(fragment.get("CONFIG_LOCK_DOWN_KERNEL_FORCE_CONFIDENTIALITY")).toBe("y");
    expect(fragment.get("CONFIG_DEVMEM")).toBe("n");
    expect(fragment.get("CONFIG_KEXEC")).toBe("n");
  });
});
