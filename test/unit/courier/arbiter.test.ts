import { describe, expect, it } from "vitest";
import { decide, destinations, PROMPT_TIMEOUT_MS, transferPrompt } from "../../../courier/arbiter.ts";
import { policySchema } from "../../../policies/schema.ts";
import { planRoom } from "../../../rooms/plan.ts";

const room = (name: string, courier: { deliveries?: boolean; max_size?: string } = {}, vault?: { folder: string }) =>
  planRoom(
    policySchema.parse({ name, image: "minimal", command: ["/bin/true"], courier, ...(vault ? { vault } : {}) }),
  );

const SHA = "ab".repeat(32);

describe("the arbiter", () => {
  const sender = room("web", { deliveries: true, max_size: "1M" });
  const running = [room("work", { deliveries: true }), sender, room("shell"), room("archive", { deliveries: true })];

  it("offers only running rooms that accept deliveries, never the sender, in a fixed order", () => {
    expect(destinations(sender, running, true).map((d) => d.room.id)).toEqual(["archive", "work"]);
    expect(destinations(sender, [sender], true)).toEqual([]);
  });

  it("adds the sender's own vault folder last, only while the vault is open", () => {
    const keeper = room("notes", {}, { folder: "notes" });
    expect(destinations(keeper, [...running, keeper], true).map((d) => [d.kind, d.room.id])).toEqual([
      ["room", "archive"],
      ["room", "web"],
      ["room", "work"],
      ["vault", "notes"],
    ]);
    expect(destinations(keeper, [...running, keeper], false).map((d) => d.kind)).toEqual(["room", "room", "room"]);
    expect(
      transferPrompt({ from: "notes", name: "a", size: 1, sha256: SHA }, destinations(keeper, [keeper], true)).choices,
    ).toEqual(["Deny", "Deliver to the vault (notes: /vault)", "Deny and stop notes"]);
  });

  it("shows the sender, name, size and the whole hash, with Deny first, Deny and stop last and a 30 s timeout; Ctrl-Alt-Esc may dismiss it", () => {
    const prompt = transferPrompt(
      { from: "web", name: "report.pdf", size: 3 * 1024 * 1024, sha256: SHA },
      destinations(sender, running, true),
    );
    expect(prompt).toEqual({
      kind: "choice",
      title: "Courier: web sends a file",
      lines: [
        "from:   web",
        "file:   report.pdf",
        "size:   3145728 bytes (3.0 MiB)",
        `sha256: ${SHA.slice(0, 32)}`,
        `        ${SHA.slice(32)}`,
      ],
      choices: ["Deny", "Deliver to archive: /inbox", "Deliver to work: /inbox", "Deny and stop web"],
      timeoutMs: PROMPT_TIMEOUT_MS,
      dismissable: true,
    });
    expect(transferPrompt({ from: "web", name: "a", size: 1536, sha256: SHA }, []).lines[2]).toBe(
      "size:   1536 bytes (1.5 KiB)",
    );
  });

  it("approves only the destination the person picked; Deny, Esc and the timeout deny and say by whom", () => {
    const to = destinations(sender, running, true);
    expect(decide({ index: 2, timedOut: false }, to)).toEqual({ approved: true, to: to[1] });
    expect(decide({ index: 0, timedOut: false }, to)).toEqual({
      approved: false,
      by: "human",
      reason: "denied at the console",
    });
    expect(decide({ index: 0, timedOut: true }, to)).toEqual({
      approved: false,
      by: "timeout",
      reason: "nobody answered within 30 s",
    });
    expect(decide({ index: 9, timedOut: false }, to)).toMatchObject({ approved: false, by: "human" });
    expect(decide({ index: to.length + 1, timedOut: false }, to)).toEqual({
      approved: false,
      by: "human",
      reason: "denied at the console, and the room is stopped",
      stopSender: true,
    });
  });
});
