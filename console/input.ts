import { EV_KEY, KEY_POWER, type InputEvent } from "../sys/evdev.ts";
import { createKeyboard, type Key } from "./keymap.ts";

export type InputHandlers = {
  power: (device: string) => void;
  ctrlAltDel: (device: string) => void;
  /** Every other key, decoded (the trusted console's). Never logged. */
  key: (key: Key | "secure-attention") => void;
};

/**
 * Routes grabbed input: the power button and Ctrl-Alt-Del (which the grab
 * hides from the kernel) to shutdown, everything else to the console. Each
 * device keeps its own modifier state.
 */
export function createInputRouter(handlers: InputHandlers): (device: string, event: InputEvent) => void {
  const keyboards = new Map<string, ReturnType<typeof createKeyboard>>();
  return (device, event) => {
    if (event.type !== EV_KEY) return;
    if (event.code === KEY_POWER) {
      if (event.value === 1) handlers.power(device);
      return;
    }
    let keyboard = keyboards.get(device);
    if (keyboard === undefined) {
      keyboard = createKeyboard();
      keyboards.set(device, keyboard);
    }
    const key = keyboard.feed(event.code, event.value);
    if (key === null) return;
    if (key === "ctrl-alt-del") handlers.ctrlAltDel(device);
    else handlers.key(key);
  };
}
