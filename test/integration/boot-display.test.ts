import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listeners, RfbClient } from "../qemu/rfb.ts";
import { consoleFont, readText } from "../qemu/screen.ts";
import { ROOT } from "../qemu/vm.ts";

/** `npm run boot`'s own path: OVMF, Secure Boot, swtpm measuring the UKI, then bay0, under TCG. */
const BOOT_MS = 240_000;
const SCREEN_MS = 60_000;
const font = consoleFont();

/**
 * Runs `npm run boot`'s program as a person without a desktop does (no
 * DISPLAY, no WAYLAND_DISPLAY): it must print how to reach the screen, serve
 * it on the loopback address only, and carry that screen and the keys to bay0.
 */
describe("npm run boot shows the trusted console to the person who ran it", () => {
  const state = mkdtempSync(join(tmpdir(), "anchor-boot-display-"));
  let boot: ChildProcess;
  let output = "";
  let viewer: RfbClient | undefined;

  const waitOutput = async (pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = pattern.exec(output);
      if (found) return found;
      if (boot.exitCode !== null)
        throw new Error(`npm run boot exited (${boot.exitCode}) before ${pattern}:\n${output.slice(-4000)}`);
      if (Date.now() > deadline) throw new Error(`no ${pattern} within ${timeoutMs} ms:\n${output.slice(-4000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  const waitScreen = async (pattern: RegExp, timeoutMs = SCREEN_MS): Promise<string[]> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!viewer) throw new Error("not connected");
      const lines = readText(await viewer.frame(), font);
      if (lines.some((l) => pattern.test(l))) return lines;
      if (Date.now() > deadline)
        throw new Error(`no screen line matching ${pattern} over VNC; screen:\n${lines.join("\n")}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  };

  beforeAll(() => {
    const env = { ...process.env };
    delete env.DISPLAY;
    delete env.WAYLAND_DISPLAY;
    // Its own process group: QEMU and swtpm end with it.
    boot = spawn("bun", [join(ROOT, "uki", "boot.ts"), "--state", state], {
      cwd: ROOT,
      env,
      detached: true,
      stdio: ["pipe", "pipe", "pipe"],
    });
    boot.stdout?.setEncoding("utf8");
    boot.stderr?.setEncoding("utf8");
    boot.stdout?.on("data", (chunk: string) => (output += chunk));
    boot.stderr?.on("data", (chunk: string) => (output += chunk));
  });
  afterAll(async () => {
    viewer?.close();
    if (boot.pid !== undefined && boot.exitCode === null) {
      process.kill(-boot.pid, "SIGTERM");
      await new Promise((r) => boot.once("exit", r));
    }
    rmSync(state, { recursive: true, force: true });
  });

  it(
    "prints the exact line to connect before the boot, and listens on 127.0.0.1 only",
    async () => {
      const line = await waitOutput(/vncviewer 127\.0\.0\.1:(\d+)\n/, 60_000);
      const port = Number(line[1]);
      expect(port).toBeGreaterThanOrEqual(5900);
      expect(output.indexOf("vncviewer")).toBeLessThan(output.indexOf("starting Anchor OS"));
      await waitOutput(/"event":"console\.ready"/, BOOT_MS);
      const tcp = ["/proc/net/tcp", "/proc/net/tcp6"].map((file) => readFileSync(file, "utf8"));
      // Exactly one listener on the port, bound to 127.0.0.1 (0100007F), none on a wildcard or IPv6 address.
      expect(listeners(tcp, port)).toEqual(["0100007F"]);
      viewer = await RfbClient.connect("127.0.0.1", port);
    },
    BOOT_MS + 60_000,
  );

  it("serves bay0's screen: the trust line and the vault's first question, read back from the VNC frame's pixels", async () => {
    const lines = await waitScreen(/Vault: choose a PIN/);
    // bay0 asks: the trust line says so, not whose screen is under the prompt.
    expect(lines[0]).toMatch(/^ ANCHOR  bay0 is asking +vault: /);
    expect(lines.some((l) => /New PIN: _/.test(l))).toBe(true);
  });

  it("carries the person's keys to bay0 as a USB keyboard: three digits typed over VNC show as three dots", async () => {
    const grabbed = output.split("\n").filter((l) => l.includes('"event":"input.grabbed"'));
    expect(grabbed.some((l) => l.includes('"name":"QEMU QEMU USB Keyboard"') && l.includes('"ok":true'))).toBe(true);
    // The prompt takes keys once armed; its hint line says when.
    await waitScreen(/Enter to confirm/);
    // One digit at a time, each checked by its dot; a key a starved guest lost is pressed again.
    let lines: string[] = [];
    for (const [i, digit] of [..."123"].entries()) {
      const dots = new RegExp(`New PIN: \u2022{${i + 1}}_`);
      for (let attempt = 0; ; attempt++) {
        viewer?.key(digit.charCodeAt(0));
        try {
          lines = await waitScreen(dots, 20_000);
          break;
        } catch (error) {
          if (attempt === 2) throw error;
        }
      }
    }
    // The digits never appear, on the screen or in the log.
    expect(lines.join("\n")).not.toMatch(/123/);
    expect(output).not.toMatch(/123"/);
  });
});
