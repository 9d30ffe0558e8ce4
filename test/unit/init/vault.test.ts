import { describe, expect, it } from "vitest";
import type { PromptAnswer, PromptRequest } from "../../../console/protocol.ts";
import { startVault, type Vault } from "../../../init/vault.ts";
import type { OpenReply, VaultReport } from "../../../vault/open-protocol.ts";
import { FakeLibc } from "../../../sys/libc-fake.ts";
import { createLog, memorySink, type LogRecord } from "../../../sys/log.ts";
import type { ChildExit, Spawner } from "../../../sys/spawn.ts";

const PARTITION = { device: "/dev/vda4", disk: "/dev/vda", number: 4 };
const NEW_KEY = "hhhhhhhh-gggggggg-ffffffff-eeeeeeee-dddddddd-cccccccc-bbbbbbbb-aaaaaaaa";

type Request = { mode: string; do: string; [field: string]: unknown };
/** What the fake rekey helper answers each request with. */
type Script = (request: Request) => OpenReply;
/** What the fake person answers each prompt with. */
type Person = (request: PromptRequest, asked: number) => PromptAnswer;
/** The fake opening helper, as the test drives it: what it says, the answers bay0 wrote it, its end. */
type Opener = { argv: string[]; say: (message: object) => void; answers: unknown[]; end: (exit: ChildExit) => void };

const pin = (value: string | null): PromptAnswer => ({ kind: "secret", value });
const OPENED: VaultReport = { opened: { how: "pin", ms: 12, attach_ms: 5, barrier: true, audit: null } };
/** A helper that opens the vault at once, as if the person had typed the right PIN. */
const openAtOnce = (helper: Opener): void => {
  setTimeout(() => {
    helper.say(OPENED);
    helper.end({ status: 0, signal: null });
  }, 0);
};

/**
 * startVault with a fake opening helper (driven by `opening`), a fake
 * rekey helper answering by `script`, a fake person at the prompt, and the
 * log's records: bay0's side of the vault without a VM, a TPM or a disk.
 */
function harness(script: Script, person: Person, opening: (helper: Opener) => void = openAtOnce) {
  const records: LogRecord[] = [];
  const requests: Request[] = [];
  const prompts: PromptRequest[] = [];
  const openers: Opener[] = [];
  const intoVault: unknown[] = [];
  const libc = new FakeLibc();
  const spawner: Spawner = {
    spawn(argv, onLine) {
      let end: (exit: ChildExit) => void = () => undefined;
      const exited = new Promise<ChildExit>((resolve) => (end = resolve));
      const mode = argv[1] ?? "";
      if (mode === "vault-open") {
        const opener: Opener = { argv, say: (m) => onLine("stdout", JSON.stringify(m)), answers: [], end };
        openers.push(opener);
        opening(opener);
        return {
          pid: 4241,
          exited,
          stdin: {
            write: (text) => void opener.answers.push((JSON.parse(text) as { answer: unknown }).answer),
            end: () => undefined,
          },
        };
      }
      return {
        pid: 4242,
        exited,
        stdin: {
          write(text) {
            const request = { mode, ...(JSON.parse(text) as { do: string }) };
            requests.push(request);
            const reply = script(request);
            setTimeout(() => onLine("stdout", JSON.stringify(reply)), 0);
          },
          end: () => end({ status: 0, signal: null }),
        },
      };
    },
    isOwn: () => false,
  };
  const ask = async (request: PromptRequest): Promise<PromptAnswer> => {
    prompts.push(request);
    return person(request, prompts.length);
  };
  const vault = startVault(
    {
      libc,
      log: createLog([memorySink(records)]),
      spawner,
      tool: async () => ({ status: 0, stdout: "", stderr: "" }),
      ask: () => ask,
      stopRooms: async () => ["docs"],
      audit: { intoVault: (dir, found) => void intoVault.push({ dir, found }), outOfVault: () => undefined },
      tpmDevice: "/dev/null",
    },
    PARTITION,
  );
  return { vault, records, requests, prompts, openers, intoVault, libc, events: () => records.map((r) => r.event) };
}

/** Until `vault` leaves the states that are still under way. */
async function settled(vault: Vault): Promise<string> {
  for (let i = 0; i < 200 && ["locked", "not set up", "provisioning"].includes(vault.state()); i++)
    await new Promise((r) => setTimeout(r, 1));
  return vault.state();
}
const drained = () => new Promise((r) => setTimeout(r, 20));

describe("the vault at boot", () => {
  it("runs the helper's dialog: shows its prompts at the console, writes back the answers, and opens when told", async () => {
    const { vault, openers, prompts, records, intoVault } = harness(
      () => ({ ok: true }),
      () => pin("kestrel42"),
      (helper) => {
        const unlock = { kind: "secret", title: "Vault: unlock", label: "PIN", minLength: 6, maxLength: 64 };
        setTimeout(() => helper.say({ prompt: unlock }), 0);
        setTimeout(() => {
          if (helper.answers.length === 1) helper.say(OPENED);
          helper.end({ status: 0, signal: null });
        }, 10);
      },
    );
    expect(await settled(vault)).toBe("open");
    expect(openers[0]?.argv.slice(1)).toEqual(["vault-open", "/dev/vda4", "/dev/vda", "4"]);
    expect(prompts.map((p) => p.title)).toEqual(["Vault: unlock"]);
    expect(openers[0]?.answers).toEqual([pin("kestrel42")]);
    expect(records.find((r) => r.event === "vault.unlocked")).toMatchObject({
      how: "pin",
      mount: "/persist",
      ms: 12,
      attach_ms: 5,
    });
    expect(intoVault).toEqual([{ dir: "/persist/audit", found: null }]);
    // A PIN never reaches the log.
    expect(JSON.stringify(records)).not.toContain("kestrel42");
  });

  it("keeps the state the helper reported when it ends, and fails the vault when the helper dies", async () => {
    const declined = harness(
      () => ({ ok: true }),
      () => pin(null),
      (helper) => setTimeout(() => helper.end({ status: 0, signal: null }), 0),
    );
    await drained();
    expect(declined.vault.state()).toBe("locked");
    const refused = harness(
      () => ({ ok: true }),
      () => pin(null),
      (helper) => {
        helper.say({ state: "unavailable" });
        helper.end({ status: 0, signal: null });
      },
    );
    expect(await settled(refused.vault)).toBe("unavailable");
    const dead = harness(
      () => ({ ok: true }),
      () => pin(null),
      (helper) => {
        helper.say({ state: "not set up" });
        helper.say({ state: "bogus" });
        helper.end({ status: 1, signal: null });
      },
    );
    expect(await settled(dead.vault)).toBe("failed");
    expect(dead.records.at(-1)).toMatchObject({
      event: "vault.unlock_failed",
      error: expect.stringMatching(/the vault helper ended \(status 1\): \{"state":"bogus"\}/),
    });
  });
});

describe("the open vault", () => {
  it("locks from the dashboard only without a write under way, and then says until reboot", async () => {
    const { vault, libc, records } = harness(
      () => ({ ok: true }),
      () => pin("kestrel42"),
    );
    expect(await settled(vault)).toBe("open");
    const release = vault.writing("big.bin from notes");
    expect(await vault.lock("dashboard")).toBe("a write into the vault is in progress: big.bin from notes");
    release?.();
    expect(await vault.lock("dashboard")).toBeNull();
    expect(vault.state()).toBe("locked until reboot");
    expect(libc.calls.map((c) => c.fn)).toEqual(["sync", "umount2"]);
    expect(records.at(-1)).toMatchObject({ event: "vault.locked", reason: "dashboard", rooms_stopped: ["docs"] });
    expect(vault.writing("late.bin")).toBeNull();
  });

  it("makes a new recovery key only after the TPM passed the PIN, and removes the old one only after the person confirmed the new", async () => {
    const rekey = (r: Request): OpenReply =>
      r.do === "check"
        ? r.pin === "kestrel42"
          ? { ok: true }
          : { ok: false, reason: "pin", tries_left: 1 }
        : r.do === "enrol"
          ? { ok: true, recovery_key: NEW_KEY }
          : { ok: true };
    const confirmed: string[] = [];
    let typed = "harrier17";
    const { vault, requests, prompts, records } = harness(rekey, (request) => {
      if (request.kind === "confirm") confirmed.push(requests.map((r) => r.do).join(","));
      return request.kind === "secret" ? pin(typed) : { kind: "confirm" };
    });
    expect(await settled(vault)).toBe("open");
    const rekeyed = () => requests.filter((r) => r.mode === "vault-rekey").map((r) => r.do);
    expect(await vault.newRecoveryKey()).toBe("wrong PIN, 1 try left");
    expect(rekeyed()).toEqual(["check"]);
    expect(records.at(-1)).toMatchObject({ event: "vault.recovery_key_refused", reason: "pin", tries_left: 1 });
    typed = "kestrel42";
    expect(await vault.newRecoveryKey()).toBeNull();
    expect(rekeyed()).toEqual(["check", "check", "enrol", "retire"]);
    expect(confirmed.at(-1)).toMatch(/check,enrol$/);
    expect(prompts.at(-1)).toMatchObject({ kind: "confirm", title: "Vault: your new recovery key" });
    expect(records.at(-1)).toMatchObject({ event: "vault.recovery_key_replaced", device: "/dev/vda4" });
    await vault.lock("shutdown");
    expect(await vault.newRecoveryKey()).toBe("the vault is locked until reboot");
  });
});
