import { describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { appendRecord, auditRecorder, GENESIS, type AuditChain } from "../../../audit/chain.ts";
import {
  bootOrder,
  brokenLinks,
  checkCopies,
  countGap,
  summarizeText,
  verifyAudit,
  type Summary,
} from "../../../audit/verify.ts";
import { pcrExtendCommand } from "../../../sys/tpm-device.ts";
import type { LogRecord } from "../../../sys/log.ts";

const record = (event: string, fields: Record<string, unknown> = {}): LogRecord => ({
  ts: "2026-12-01T00:00:00.000Z",
  level: "info",
  event,
  ...fields,
});

function chainOf(events: LogRecord[]): string[] {
  const lines: string[] = [];
  let chain: AuditChain = { seq: 0, head: GENESIS };
  for (const r of events) {
    const next = appendRecord(chain, "boot-1", r);
    lines.push(next.line);
    chain = next.chain;
  }
  return lines;
}

const text = (lines: string[]): string => `${lines.join("\n")}\n`;

/** The boots' copies (name -> text) as the vault helper summarizes them. */
const summaries = (copies: ReadonlyMap<string, string>): Map<string, Summary> =>
  new Map([...copies].map(([name, t]) => [name, summarizeText(t)]));
const tailHash = (t: string): string => summarizeText(t).tail;

describe("the audit chain", () => {
  const lines = chainOf([
    record("room.started", { room: "web" }),
    record("room.started", { room: "work" }),
    record("shutdown.begin", { action: "poweroff" }),
  ]);

  it("verifies an intact log and names its head", () => {
    const verdict = verifyAudit(text(lines));
    expect(verdict).toMatchObject({ ok: true, records: 3 });
    expect(verifyAudit("")).toEqual({ ok: true, records: 0, head: GENESIS, pcr: "0".repeat(64), closed: false });
  });

  it("tells a copy that ends with audit.closed (the vault locked in order) from one whose tail is missing", () => {
    const closed = chainOf([record("room.started", { room: "web" }), record("audit.closed", { file: "x.jsonl" })]);
    expect(verifyAudit(text(closed))).toMatchObject({ ok: true, records: 2, closed: true });
    expect(verifyAudit(text(closed.slice(0, 1)))).toMatchObject({ ok: true, records: 1, closed: false });
  });

  it("finds an edited record at the line after it", () => {
    const edited = [...lines];
    edited[0] = (edited[0] ?? "").replace('"web"', '"wab"');
    expect(verifyAudit(text(edited))).toMatchObject({ ok: false, line: 2, records: 1 });
  });

  it("finds a removed, a moved and an inserted record", () => {
    expect(verifyAudit(text([lines[0] ?? "", lines[2] ?? ""]))).toMatchObject({
      ok: false,
      line: 2,
      reason: expect.stringMatching(/seq is 2/),
    });
    expect(verifyAudit(text([lines[1] ?? "", lines[0] ?? "", lines[2] ?? ""]))).toMatchObject({ ok: false, line: 1 });
    const forged = JSON.stringify({ event: "room.started", seq: 1, prev: "f".repeat(64) });
    expect(verifyAudit(text([lines[0] ?? "", forged, lines[1] ?? "", lines[2] ?? ""]))).toMatchObject({
      ok: false,
      line: 2,
      reason: expect.stringMatching(/prev does not match/),
    });
  });

  it("refuses a line that is not a JSON object", () => {
    expect(verifyAudit(text([lines[0] ?? "", "garbage"]))).toMatchObject({
      ok: false,
      line: 2,
      reason: "not a JSON line",
    });
  });
});

describe("auditRecorder", () => {
  it("keeps only the audited events, chained from the genesis", () => {
    const out: string[] = [];
    const anchored: string[] = [];
    const recorder = auditRecorder(
      "boot-1",
      (line) => out.push(line),
      (hash) => anchored.push(hash),
    );
    for (const r of [
      record("room.started", { room: "web" }),
      record("input.grabbed"),
      record("console.prompt", { kind: "choice" }),
      record("room.output", { line: "x" }),
    ])
      recorder(r);
    expect(out.map((l) => (JSON.parse(l) as { event: string }).event)).toEqual(["room.started", "console.prompt"]);
    expect(JSON.parse(out[0] ?? "{}")).toMatchObject({ seq: 0, prev: GENESIS, boot: "boot-1" });
    expect(verifyAudit(out.join(""))).toMatchObject({ ok: true, records: 2 });
    expect(anchored).toEqual(out.map((l) => createHash("sha256").update(l.trimEnd()).digest("hex")));
  });
});

describe("the TPM anchor", () => {
  const lines = chainOf([record("room.started", { room: "web" }), record("room.exited", { room: "web" })]);

  it("replays the lines' hashes as PCR extends from zero", () => {
    const sha = (b: Buffer | string): Buffer => createHash("sha256").update(b).digest();
    const expected = sha(
      Buffer.concat([sha(Buffer.concat([Buffer.alloc(32), sha(lines[0] ?? "")])), sha(lines[1] ?? "")]),
    );
    expect(verifyAudit(text(lines))).toMatchObject({ ok: true, pcr: expected.toString("hex") });
  });

  it("catches a log cut short at its end, which the chain alone cannot", () => {
    const verdict = verifyAudit(text(lines));
    const pcr = verdict.ok ? verdict.pcr : "";
    expect(verifyAudit(text(lines), pcr)).toMatchObject({ ok: true, records: 2, pcr });
    expect(verifyAudit(text(lines.slice(0, 1)))).toMatchObject({ ok: true, records: 1 });
    expect(verifyAudit(text(lines.slice(0, 1)), pcr)).toMatchObject({
      ok: false,
      line: 2,
      reason: expect.stringMatching(/cut from its end/),
    });
  });

  it("encodes TPM2_PCR_Extend for the SHA-256 bank under an empty password session", () => {
    const command = Buffer.from(pcrExtendCommand(15, "ab".repeat(32)));
    expect(command.subarray(0, 35).toString("hex")).toBe(
      `80020000004100000182${"0000000f"}00000009${"40000009"}0000000000000000010${"00b"}abab`,
    );
    expect(command.length).toBe(65);
    expect(command.subarray(35).toString("hex")).toBe("ab".repeat(30));
  });
});

describe("the links between the boots' copies", () => {
  /** Three boots' copies in the vault, each naming the one before it as bay0 does when the vault opens. */
  const boots = (): Map<string, string> => {
    const copies = new Map<string, string>();
    let before: string | null = null;
    for (const name of ["1-a.jsonl", "2-b.jsonl", "3-c.jsonl"]) {
      const after =
        before === null
          ? { after: null, after_head: null }
          : { after: before, after_head: tailHash(copies.get(before) ?? "") };
      copies.set(
        name,
        text(
          chainOf([
            record("vault.unlocked"),
            record("audit.flushed", { file: name, ...after }),
            record("audit.closed", { file: name }),
          ]),
        ),
      );
      before = name;
    }
    return copies;
  };

  it("hold for untouched copies; the first boot's names none", () => {
    const copies = boots();
    expect(brokenLinks(summaries(copies))).toEqual([]);
    expect(summarizeText(copies.get("1-a.jsonl") ?? "").link).toBeNull();
    expect(summarizeText(copies.get("3-c.jsonl") ?? "").link).toEqual({
      file: "2-b.jsonl",
      head: tailHash(copies.get("2-b.jsonl") ?? ""),
    });
    expect(tailHash("")).toBe(GENESIS);
  });

  it("name a copy deleted after a later boot read it", () => {
    const copies = boots();
    copies.delete("2-b.jsonl");
    expect(brokenLinks(summaries(copies))).toEqual([
      { file: "2-b.jsonl", reason: expect.stringMatching(/^missing: 3-c.jsonl names it/) },
    ]);
  });

  it("name a copy cut back to a prefix that no longer ends closed, which alone looks like a power cut", () => {
    const copies = boots();
    const cut = (copies.get("1-a.jsonl") ?? "").split("\n").slice(0, 2).join("\n");
    copies.set("1-a.jsonl", `${cut}\n`);
    expect(verifyAudit(copies.get("1-a.jsonl") ?? "")).toMatchObject({ ok: true, closed: false });
    expect(brokenLinks(summaries(copies))).toEqual([
      { file: "1-a.jsonl", reason: expect.stringMatching(/records were cut from it/) },
    ]);
  });

  it("ignore a link that is not well formed, which the chain then answers for", () => {
    const forged = text(chainOf([record("audit.flushed", { after: "../../etc/passwd", after_head: "not a hash" })]));
    expect(summarizeText(forged).link).toBeNull();
  });

  it("are checked with every chain when the vault opens: breaks, unfinished copies, and the newest one to name next", () => {
    const copies = boots();
    // An edit breaks the chain at the line after it; an edit of the last line only the link that the next boot recorded.
    copies.set(
      "1-a.jsonl",
      (copies.get("1-a.jsonl") ?? "").replace('"event":"vault.unlocked"', '"event":"vault.unlocked","x":1'),
    );
    copies.set(
      "2-b.jsonl",
      (copies.get("2-b.jsonl") ?? "").replace('"event":"audit.closed"', '"event":"audit.closed","x":1'),
    );
    const cut = (copies.get("3-c.jsonl") ?? "").split("\n").slice(0, 2).join("\n");
    copies.set("3-c.jsonl", `${cut}\n`);
    expect(checkCopies(summaries(copies), null)).toEqual({
      earlier: 3,
      unfinished: ["3-c.jsonl"],
      broken: [
        { file: "1-a.jsonl", line: 2, reason: expect.stringMatching(/prev does not match/) },
        { file: "2-b.jsonl", reason: expect.stringMatching(/its end is not what 3-c.jsonl's boot found/) },
      ],
      after: "3-c.jsonl",
      after_head: tailHash(`${cut}\n`),
      count: null,
    });
    expect(checkCopies(new Map(), 7)).toEqual({
      earlier: 0,
      unfinished: [],
      broken: [],
      after: null,
      after_head: null,
      count: null,
    });
  });
});

describe("the TPM's count of vault openings, against the newest copy", () => {
  const counted = (count: number | null): string =>
    text(chainOf([record("audit.flushed", { after: null, after_head: null, count })]));

  it("reads the count a copy's boot got", () => {
    expect(summarizeText(counted(4)).count).toBe(4);
    expect(summarizeText(counted(null)).count).toBeNull();
  });

  it("finds the newest copies deleted, which no later copy names: the TPM counted openings after the newest left", () => {
    const copies = new Map([["4-d.jsonl", counted(4)]]);
    expect(checkCopies(summaries(copies), 4).broken).toEqual([]);
    expect(checkCopies(summaries(copies), 6).broken).toEqual([
      {
        file: "4-d.jsonl",
        reason: expect.stringMatching(/^the TPM counted 2 vault openings after this file's, whose files are gone/),
      },
    ]);
    expect(countGap("4-d.jsonl", 4, 5)?.reason).toMatch(
      /^the TPM counted 1 vault opening after this file's, whose file is gone/,
    );
  });

  it("orders the copies by the count each recorded, not by their clock-made names: a clock set back raises no alarm and hides no file", () => {
    // The clock was reset before the fifth opening: its file sorts first by name, yet it is the newest.
    const copies = new Map([
      ["2026-03-01T000000Z-c.jsonl", counted(4)],
      ["1970-01-01T000010Z-e.jsonl", counted(5)],
      ["2026-02-01T000000Z-b.jsonl", counted(3)],
    ]);
    expect(bootOrder(summaries(copies)).map(([name]) => name)).toEqual([
      "2026-02-01T000000Z-b.jsonl",
      "2026-03-01T000000Z-c.jsonl",
      "1970-01-01T000010Z-e.jsonl",
    ]);
    const found = checkCopies(summaries(copies), 5);
    expect(found.broken).toEqual([]);
    expect(found.after).toBe("1970-01-01T000010Z-e.jsonl");
    // With the newest gone, the TPM's count finds it whatever the names say.
    copies.delete("1970-01-01T000010Z-e.jsonl");
    expect(checkCopies(summaries(copies), 5).broken).toEqual([
      {
        file: "2026-03-01T000000Z-c.jsonl",
        reason: expect.stringMatching(/^the TPM counted 1 vault opening after this file's/),
      },
    ]);
  });

  it("orders copies from before the count by their links", () => {
    const linked = (after: string | null): string =>
      text(chainOf([record("audit.flushed", { after, after_head: after === null ? null : GENESIS })]));
    const copies = new Map([
      ["9-first.jsonl", linked(null)],
      ["1-second.jsonl", linked("9-first.jsonl")],
      ["5-third.jsonl", linked("1-second.jsonl")],
    ]);
    expect(bootOrder(summaries(copies)).map(([name]) => name)).toEqual([
      "9-first.jsonl",
      "1-second.jsonl",
      "5-third.jsonl",
    ]);
  });

  it("finds a count the TPM never gave, or a TPM without the counter; says nothing when a count is missing", () => {
    expect(countGap("4-d.jsonl", 4, 2)?.reason).toMatch(/files from another TPM, or the TPM was cleared/);
    expect(countGap("4-d.jsonl", 4, "absent")?.reason).toMatch(/the TPM has no such count: it was cleared/);
    expect(countGap("4-d.jsonl", null, 9)).toBeNull();
    expect(countGap("4-d.jsonl", 4, null)).toBeNull();
    expect(countGap(null, null, "absent")).toBeNull();
  });
});
