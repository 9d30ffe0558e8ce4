/**
 * `npm run screenshots`: boots the image with its shipped policies under
 * QEMU (the test build of bay0, for the test port that opens prompts) and
 * saves real screendumps of the trusted console into test/screenshots/, the
 * pictures the README shows.
 */
import { join } from "node:path";
import { promptArmed, typeKeys } from "./qemu/keyboard.ts";
import { testOverlay } from "./qemu/overlay.ts";
import { builtImages } from "./qemu/probe-image.ts";
import { screenReader } from "./qemu/screen.ts";
import { ROOT, Vm } from "./qemu/vm.ts";

const DIR = join(ROOT, "test", "screenshots");
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const vm = await Vm.boot({
    name: "screenshots",
    noReboot: true,
    testPort: true,
    usbKeyboard: true,
    memoryMb: 1536,
    overlay: testOverlay(),
    images: builtImages(),
    append: ["anchor.run=/test/forward.sh"],
  });
  const screen = screenReader(() => vm, "screenshots");
  try {
    const shot = async (name: string): Promise<void> => {
      await pause(1500); // two refreshes: the screen has settled
      await vm.screendump(join(DIR, `${name}.png`));
      process.stdout.write(`[screenshots] ${name}.png\n`);
    };
    await vm.waitFor("room.started", 180_000, (r) => r.room === "work");
    await vm.control("start workshop");
    await shot("dashboard");
    for (const key of ["w", "o"]) await vm.sendKeys([key]);
    await shot("launcher-filter");
    await vm.sendKeys(["esc"]);
    await vm.control("prompt-secret");
    await promptArmed(screen);
    for (const key of ["1", "2", "3", "4", "5", "6"]) await vm.sendKeys([key]);
    await shot("prompt-pin");
    await vm.sendKeys(["esc"]);
    await vm.control("prompt-choice 60000");
    await promptArmed(screen);
    await vm.sendKeys(["down"]);
    await shot("prompt-choice");
    await vm.sendKeys(["esc"]);
    const type = (text: string): Promise<void> => typeKeys(vm, text);
    await type("workshop");
    await vm.sendKeys(["ret"]);
    await pause(1000);
    await type("uname -a");
    await vm.sendKeys(["ret"]);
    await type("id");
    await vm.sendKeys(["ret"]);
    await shot("terminal");
    // A real transfer request from the workshop: bay0's prompt over the room's terminal, which it cannot draw.
    await type("echo quarterly figures > /tmp/report.txt; anchorctl send /tmp/report.txt");
    await vm.sendKeys(["ret"]);
    await vm.waitFor("courier.requested", 60_000);
    await promptArmed(screen);
    await vm.sendKeys(["down"]);
    await shot("courier-prompt");
    await vm.sendKeys(["esc"]);
    await vm.sendKeys(["ctrl", "alt", "esc"]);
  } finally {
    await vm.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`[screenshots] failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
