import { describe, expect, it } from "vitest";
import type { PromptAnswer, PromptRequest } from "../../../console/protocol.ts";
import { startVault, type Vault } from "../../../init/vault.ts";
import type { VaultReport } from "../../../vault/open-protocol.ts";
import { FakeLibc } from "../../../sys/libc-fake.ts";
import { createLog, type LogRecord } from "../../../sys/log.ts";
import { memorySink } from "../memory-sink.ts";
import type { ChildExit, Spawner } from "../../../sys/spawn.ts";

const PARTITION = { device: "/dev/vda4", disk: "/dev/vda", number: 4 };

/** What the fake person answers each prompt with. */
type Person = (request: PromptRequest, asked: number) => PromptAnswer;
/** A fake vault helper, as the test drives it: what it says, the answers bay0 wrote it, its end. */
type Opener = {
  argv: string[];
  say: (message: object) => void;
  answers: unknown[];
  end: (exit: ChildExit) => void;
  stdinClosed: boolean;
};

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
 * startVault with fake vault helpers (the opening one driven by `opening`,
 * a rekey one by `rekeying`), a fake person at the prompt, and the log's
 * records: bay0's side of the vault without a VM, a TPM or a disk.
 */
function harness(
  person: Person,
  opening: (helper: Opener) => void = openAtOnce,
  rekeying: (helper: Opener) => void = (helper) => helper.end({ status: 0, signal: null }),
) {
  const records: LogRecord[] = [];
  const prompts: PromptRequest[] = [];
  const openers: Opener[] = [];
  const intoVault: unknown[] = [];
  const closes: string[][] = [];
  const libc = new FakeLibc();
  const spawner: Spawner = {
    spawn(argv, onLine) {
      if (argv[0]?.endsWith("/cryptsetup")) {
        closes.push(argv);
        return { pid: 4242, exited: Promise.resolve({ status: 0, signal: null }) };
      }
      let end: (exit: ChildExit) => void = () => undefined;
      const exited = new Promise<ChildExit>((resolve) => (end = resolve));
      const opener: Opener = {
        argv,
        say: (m) => onLine("stdout", JSON.stringify(m)),
        answers: [],
        end,
        stdinClosed: false,
      };
      openers.push(opener);
      (argv[1] === "vault-open" ? opening : rekeying)(opener);
      return {
        pid: 4241,
        exited,
        stdin: {
          write: (text) => void opener.answers.push((JSON.parse(text) as { answer: unknown }).answer),
          end: () => void (opener.stdinClosed = true),
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
      ask: () => ask,
      stopRooms: async () => ["docs"],
      audit: { intoVault: (dir, found) => void intoVault.push({ dir, found }), outOfVault: () => undefined },
      tpmDevice: "/dev/null",
    },
    PARTITION,
  );
  return { vault, records, prompts, openers, intoVault, libc, closes, events: () => records.map((r) => r.event) };
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
      () => pin(null),
      (helper) => setTimeout(() => helper.end({ status: 0, signal: null }), 0),
    );
    await drained();
    expect(declined.vault.state()).toBe("locked");
    const refused = harness(
      () => pin(null),
      (helper) => {
        helper.say({ state: "unavailable" });
        helper.end({ status: 0, signal: null });
      },
    );
    expect(await settled(refused.vault)).toBe("unavailable");
    const dead = harness(
      () => pin(null),
      (helper) => {
        helper.say({ state: "not set up" });
        helper.say({ state: "bogus" });
        helper.end({ status: 1, signal: null });
      },
    );
    expect(await settled(dead.vault)).toBe("failed");
    // Stopped at shutdown, not broken: it stays locked.
    let stop: () => void = () => undefined;
    const stopped = harness(
      () => pin(null),
      (helper) => (stop = () => helper.end({ status: null, signal: "SIGTERM" })),
    );
    stopped.vault.shuttingDown();
    stop();
    await drained();
    expect(stopped.vault.state()).toBe("locked");
    expect(stopped.records.at(-1)).toMatchObject({
      event: "vault.locked",
      reason: "the machine shut down before it was unlocked",
    });
    expect(dead.records.at(-1)).toMatchObject({
      event: "vault.unlock_failed",
      error: "the vault helper ended (status 1): a message bay0 could not read",
    });
  });
});

describe("the open vault", () => {
  it("locks from the dashboard only without a write under way, and then says until reboot", async () => {
    const { vault, libc, records, closes } = harness(() => pin("kestrel42"));
    expect(await settled(vault)).toBe("open");
    const release = vault.writing("big.bin from notes");
    expect(await vault.lock("dashboard")).toBe("a write into the vault is in progress: big.bin from notes");
    release?.();
    expect(await vault.lock("dashboard")).toBeNull();
    expect(vault.state()).toBe("locked until reboot");
    expect(libc.calls.map((c) => c.fn)).toEqual(["sync", "umount2"]);
    expect(closes).toEqual([["/usr/lib/anchor/vault/bin/cryptsetup", "close", "vault"]]);
    expect(records.at(-1)).toMatchObject({ event: "vault.locked", reason: "dashboard", rooms_stopped: ["docs"] });
    expect(vault.writing("late.bin")).toBeNull();
  });

  it("has the rekey helper run its dialog with the vault held open, and says what it reported", async () => {
    let release: () => void = () => undefined;
    const { vault, openers, prompts } = harness(
      () => pin("kestrel42"),
      openAtOnce,
      (helper) => {
        helper.say({
          prompt: { kind: "secret", title: "Vault: a new key", label: "PIN", minLength: 6, maxLength: 64 },
        });
        release = () => {
          helper.say({ rekeyed: helper.answers.length === 1 ? null : "no answer" });
          helper.end({ status: 0, signal: null });
        };
      },
    );
    expect(await settled(vault)).toBe("open");
    const made = vault.newRecoveryKey();
    await drained();
    expect(openers[1]?.argv.slice(1)).toEqual(["vault-rekey", "/dev/vda4"]);
    expect(prompts.map((p) => p.title)).toEqual(["Vault: a new key"]);
    // Meanwhile the dashboard cannot lock the vault, nor start a second one.
    expect(await vault.lock("dashboard")).toBe("a write into the vault is in progress: a new recovery key");
    expect(await vault.newRecoveryKey()).toBe("a new recovery key is being made already");
    release();
    expect(await made).toBeNull();
    await vault.lock("shutdown");
    expect(await vault.newRecoveryKey()).toBe("the vault is locked until reboot");
  });

  it("takes a rekey helper's report as its last word: closes its stdin and does not wait for its exit", async () => {
    const { vault, openers, records } = harness(
      () => pin(null),
      openAtOnce,
      (helper) => setTimeout(() => helper.say({ rekeyed: null }), 0),
    );
    expect(await settled(vault)).toBe("open");
    expect(await vault.newRecoveryKey()).toBeNull();
    expect(openers[1]?.stdinClosed).toBe(true);
    // Not held any more: the dashboard may lock the vault.
    expect(await vault.lock("dashboard")).toBeNull();
    // A failure after its last report is logged, not answered.
    openers[1]?.end({ status: 1, signal: null });
    await drained();
    expect(records.find((r) => r.event === "vault.helper_ended")).toMatchObject({ helper: "vault-rekey" });
  });

  it("says how a rekey helper that dies ended", async () => {
    const { vault } = harness(
      () => pin(null),
      openAtOnce,
      (helper) => helper.end({ status: null, signal: "SIGKILL" }),
    );
    expect(await settled(vault)).toBe("open");
    expect(await vault.newRecoveryKey()).toBe("the vault helper ended (SIGKILL): ");
  });
});
