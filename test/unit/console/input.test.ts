import { describe, expect, it } from "vitest";
import type { Key } from "../../../console/keymap.ts";
import { createInputRouter } from "../../../console/input.ts";

describe("createInputRouter", () => {
  it("sends the power button and Ctrl-Alt-Del to shutdown and other keys to the console, per device", () => {
    const seen: string[] = [];
    const route = createInputRouter({
      power: (d) => seen.push(`power ${d}`),
      ctrlAltDel: (d) => seen.push(`cad ${d}`),
      key: (k: Key | "secure-attention") => seen.push(typeof k === "string" ? k : `key ${k.char ?? k.name}`),
    });
    const press = (device: string, code: number, value = 1) => route(device, { type: 1, code, value });
    press("/dev/input/event1", 116);
    press("/dev/input/event0", 29);
    press("/dev/input/event0", 56);
    press("/dev/input/event2", 30); // another keyboard: no Ctrl or Alt held there
    press("/dev/input/event0", 111);
    press("/dev/input/event0", 1);
    route("/dev/input/event0", { type: 0, code: 0, value: 0 });
    expect(seen).toEqual(["power /dev/input/event1", "key a", "cad /dev/input/event0", "secure-attention"]);
  });
});
