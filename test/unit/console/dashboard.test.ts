import { describe, expect, it } from "vitest";
import { COLOURS, drawDashboard, drawTrustLine, roomColour, type RoomRow } from "../../../console/dashboard.ts";
import { Grid } from "../../../console/grid.ts";
import { INITIAL_LAUNCHER } from "../../../console/launcher.ts";

const row = (name: string, extra: Partial<RoomRow> = {}): RoomRow => ({
  name,
  running: true,
  frozen: false,
  state: "running",
  memoryCurrent: 12 * 1048576,
  memoryMax: 512 * 1048576,
  cpuPercent: 3.4,
  pids: 2,
  uptimeSec: 80,
  ...extra,
});

describe("drawDashboard", () => {
  const view = {
    now: new Date("2026-12-01T09:05:00Z"),
    focus: "bay0",
    asking: false,
    vault: "not set up",
    watchdog: "armed, 30 s",
    launcher: INITIAL_LAUNCHER,
    rows: [
      row("web"),
      row("work", { frozen: true, state: "frozen", memoryCurrent: 300 * 1024 }),
      row("shell", { running: false, state: "exited 3" }),
    ],
    events: ["09:04:59 room.started web"],
  };

  it("puts ANCHOR, whose screen it is, the vault and the time on the trust line", () => {
    const grid = drawDashboard(80, 25, view);
    expect(grid.rowText(0)).toMatch(/^ ANCHOR  bay0 +vault: not set up  09:05 $/);
    expect(grid.bg[0]).toBe(grid.bg[79]);
  });

  it("lists every room with state, memory, CPU, pids and uptime; the selection is marked", () => {
    const grid = drawDashboard(80, 25, view);
    const text = [...Array(25).keys()].map((r) => grid.rowText(r));
    expect(text[3]).toMatch(/^> web +running +12M\/512M +3% +2 +1m20s/);
    expect(text[4]).toMatch(/^ {2}work +frozen +0\.3M\/512M/);
    expect(text[5]).toMatch(/^ {2}shell +exited 3 *$/);
    expect(text.join("\n")).toContain("Watchdog: armed, 30 s");
    expect(text.join("\n")).toContain("room.started web");
    expect(grid.fg[3 * 80 + 2]).toBe(roomColour("web"));
  });

  it("names every key of the dashboard on its last row, whole at 80 columns", () => {
    expect(drawDashboard(80, 25, view).rowText(24)).toMatch(
      /^ Enter start +\^R reset +\^K kill +\^F freeze +\^L lock +\^N key +Ctrl-Alt-Esc home *$/,
    );
  });

  it("fits 1024x768 (64 columns) without losing the trust line", () => {
    expect(drawDashboard(64, 24, view).rowText(0)).toMatch(/^ ANCHOR  bay0 +vault: not set up  09:05 $/);
  });
});

describe("drawTrustLine", () => {
  const now = new Date("2026-12-01T09:05:00Z");

  it("says bay0 is asking, in a colour nothing else uses, instead of the room under the prompt", () => {
    const grid = new Grid(80, 25);
    drawTrustLine(grid, now, "shell", "locked", true);
    expect(grid.rowText(0)).toMatch(/^ ANCHOR  bay0 is asking +vault: locked  09:05 $/);
    expect(grid.bg[0]).toBe(COLOURS.askingBackground);
    expect(
      Object.entries(COLOURS)
        .filter(([, colour]) => colour === COLOURS.askingBackground)
        .map(([name]) => name),
    ).toEqual(["askingBackground"]);
    drawTrustLine(grid, now, "shell", "locked");
    expect(grid.rowText(0)).toMatch(/^ ANCHOR  shell +vault: locked  09:05 $/);
    expect(grid.bg[0]).toBe(COLOURS.trustBackground);
  });

  it("cuts a long nested room's name, so the vault's state and the time stay", () => {
    const grid = new Grid(80, 25);
    const deep = Array.from({ length: 5 }, (_, i) => `room${i}-with-a-long-name`).join("/");
    drawTrustLine(grid, now, deep, "open");
    expect(grid.rowText(0)).toMatch(/^ ANCHOR  room0-with-a-long-name\/room1-with-a-lo\.\. +vault: open  09:05 $/);
  });
});
