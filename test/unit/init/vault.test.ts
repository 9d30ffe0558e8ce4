import { describe, expect, it } from "vitest";
import type { PromptAnswer, PromptRequest } from "../../../console/protocol.ts";
import { startVault, type Vault } from "../../../init/vault.ts";
import type { OpenReply } from "../../../vault/open-protocol.ts";
import { FakeLibc } from "../../../sys/libc-fake.ts";
import { createLog, memorySink, type LogRecord } from "../../../sys/log.ts";
import type { ChildExit, Spawner } from "../../../sys/spawn.ts";

const PARTITION = { device: "/dev/vda4", disk: "/dev/vda", number: 4 };
const KEY = "aaaaaaaa-bbbbbbbb-cccccccc-dddddddd-eeeeeeee-ffffffff-gggggggg-hhhhhhhh";
const NEW_KEY = "hhhhhhhh-gggggggg-ffffffff-eeeeeeee-dddddddd-cccccccc-bbbbbbbb-aaaaaaaa";

type Request = { mode: string; do: string; [field: string]: unknown };
/** What the fake helper answers each request with; null: it dies instead. */
type Script = (request: Request) => OpenReply | null;
/** What the fake person answers each prompt with. */
type Person = (request: PromptRequest, asked: number) => PromptAnswer;

const pin = (value: string | null): PromptAnswer => ({ kind: "secret", value });
const opened: Script = (r) =>
  r.do === "lockout"
    ? { ok: true, taken: false, insecure: null, partition: "vault" }
    : r.do === "mount"
      ? { ok: true, barrier: true }
      : { ok: true };

/**
 * startVault with a fake vault helper (the requests it gets, in order,
 * with the mode it was started in), a fake person at the prompt, and the
 * log's records: the vault's state machine without a VM, a TPM or a disk.
 */
function harness(script: Script, person: Person) {
  const records: LogRecord[] = [];
  const requests: Request[] = [];
  const prompts: PromptRequest[] = [];
  const libc = new FakeLibc();
  const spawner: Spawner = {
    spawn(argv, onLine) {
      let end: (exit: ChildExit) => void = () => undefined;
      const exited = new Promise<ChildExit>((resolve) => (end = resolve));
      const mode = argv[1] ?? "";
      return {
        pid: 4242,
        exited,
        stdin: {
          write(text) {
            const request = { mode, ...(JSON.parse(text) as { do: string }) };
            requests.push(request);
            const reply = script(request);
            setTimeout(
              () => (reply === null ? end({ status: 1, signal: null }) : onLine("stdout", JSON.stringify(reply))),
              0,
            );
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
      audit: { intoVault: () => undefined, outOfVault: () => undefined },
      tpmDevice: "/dev/null",
    },
    PARTITION,
  );
  return { vault, records, requests, prompts, libc, events: () => records.map((r) => r.event) };
}

/** Until `vault` leaves the states that are still under way. */
async function settled(vault: Vault): Promise<string> {
  for (let i = 0; i < 200 && ["locked", "not set up", "provisioning"].includes(vault.state()); i++)
    await new Promise((r) => setTimeout(r, 1));
  return vault.state();
}
const drained = () => new Promise((r) => setTimeout(r, 20));

describe("the vault at boot", () => {
  it("provisions a blank partition: a new PIN twice, the recovery key shown, and finished only after the person confirmed it", async () => {
    const seen: string[] = [];
    const { vault, requests, prompts, events } = harness(
      (r) =>
        r.do === "lockout"
          ? { ok: true, taken: false, insecure: null, partition: "blank" }
          : r.do === "provision"
            ? { ok: true, recovery_key: KEY, binding: "pcr7+signed-pcr11" }
            : opened(r),
      (request) => {
        if (request.kind === "confirm") seen.push(requests.map((r) => r.do).join(","));
        return request.kind === "secret" ? pin("kestrel42") : { kind: "confirm" };
      },
    );
    expect(await settled(vault)).toBe("open");
    expect(prompts.map((p) => p.title)).toEqual([
      "Vault: choose a PIN",
      "Vault: the same PIN again",
      "Vault: your recovery key",
    ]);
    expect(JSON.stringify(prompts[2])).toContain("aaaaaaaa-bbbbbbbb-cccccccc-dddddddd");
    // Nothing was finished while the key was on the screen.
    expect(seen).toEqual(["lockout,provision"]);
    expect(requests.map((r) => r.do)).toEqual(["lockout", "provision", "finish", "mount"]);
    expect(requests[1]).toMatchObject({ pin: "kestrel42", disk: "/dev/vda", number: 4 });
    expect(events()).toEqual([
      "vault.absent",
      "vault.provisioning",
      "vault.provisioned",
      "vault.finished",
      "vault.unlocked",
    ]);
  });

  it("asks a mistyped new PIN again, and sets nothing up when the person declines", async () => {
    const typed = ["kestrel42", "kestrel43", "osprey993", "osprey993"];
    const { vault, requests, prompts } = harness(
      (r) =>
        r.do === "lockout"
          ? { ok: true, taken: false, insecure: null, partition: "provisioning" }
          : r.do === "provision"
            ? { ok: true, recovery_key: KEY, binding: "pcr7" }
            : opened(r),
      (request, n) => (request.kind === "confirm" ? { kind: "confirm" } : pin(typed[n - 1] ?? null)),
    );
    expect(await settled(vault)).toBe("open");
    expect(prompts.slice(0, 4).map((p) => p.title)).toEqual([
      "Vault: choose a PIN",
      "Vault: the same PIN again",
      "Vault: choose a PIN",
      "Vault: the same PIN again",
    ]);
    expect(requests.filter((r) => r.do === "provision")).toEqual([expect.objectContaining({ pin: "osprey993" })]);
    const declined = harness(
      (r) => (r.do === "lockout" ? { ok: true, taken: false, insecure: null, partition: "blank" } : opened(r)),
      () => pin(null),
    );
    await drained();
    expect(declined.requests.map((r) => r.do)).toEqual(["lockout"]);
    expect(declined.records.at(-1)).toMatchObject({
      event: "vault.absent",
      reason: "the person declined to set it up this boot",
    });
  });

  it("refuses to provision on a firmware without Secure Boot, or on a TPM another owner took, and says so at the prompt", async () => {
    const insecure = harness(
      (r) =>
        r.do === "lockout" ? { ok: true, taken: false, insecure: "Secure Boot is off", partition: "blank" } : opened(r),
      () => ({ kind: "choice", index: 0, timedOut: false }),
    );
    expect(await settled(insecure.vault)).toBe("unavailable");
    expect(insecure.records.at(-1)).toMatchObject({
      event: "vault.provision_failed",
      step: "secure-boot",
      error: "Secure Boot is off",
    });
    expect(insecure.prompts[0]?.title).toBe("Vault: not set up on this firmware");
    const taken = harness(
      (r) => (r.do === "lockout" ? { ok: true, taken: true, insecure: null, partition: "blank" } : opened(r)),
      () => ({ kind: "choice", index: 0, timedOut: false }),
    );
    expect(await settled(taken.vault)).toBe("unavailable");
    expect(taken.records.at(-1)).toMatchObject({ event: "vault.provision_failed", step: "lockout-auth" });
    expect([...insecure.requests, ...taken.requests].map((r) => r.do)).toEqual(["lockout", "lockout"]);
  });

  it("never sets up over a partition that is neither blank nor a vault", async () => {
    const { vault, records, prompts } = harness(
      (r) => (r.do === "lockout" ? { ok: true, taken: false, insecure: null, partition: "foreign" } : opened(r)),
      () => pin("x"),
    );
    expect(await settled(vault)).toBe("unavailable");
    expect(records.at(-1)?.reason).toMatch(/never set up over/);
    expect(prompts).toEqual([]);
  });

  it("says how many tries a wrong PIN leaves, then opens with the right one", async () => {
    const { vault, requests, prompts, events } = harness(
      (r) =>
        r.do === "pin"
          ? r.pin === "kestrel42"
            ? { ok: true, attach_ms: 5 }
            : { ok: false, reason: "pin", tries_left: 2 }
          : opened(r),
      (_, n) => pin(n === 1 ? "harrier17" : "kestrel42"),
    );
    expect(await settled(vault)).toBe("open");
    expect(prompts.map((p) => p.title)).toEqual(["Vault: unlock", "Vault: wrong PIN, 2 tries left"]);
    expect(requests.map((r) => r.do)).toEqual(["lockout", "pin", "pin", "mount"]);
    expect(events()).toEqual(["vault.unlock_failed", "vault.unlocked"]);
  });

  it("after a refusing TPM opens with the recovery key and seals a new PIN; after a lockout, seals nothing", async () => {
    const answers = (request: PromptRequest): PromptAnswer =>
      pin(request.kind === "secret" && request.label === "Recovery key" ? KEY : "osprey993");
    const refused = harness((r) => (r.do === "pin" ? { ok: false, reason: "pcr", tries_left: 3 } : opened(r)), answers);
    expect(await settled(refused.vault)).toBe("open");
    expect(refused.requests.map((r) => r.do)).toEqual(["lockout", "pin", "key", "reseal", "mount"]);
    expect(refused.requests[3]).toMatchObject({ key: KEY, pin: "osprey993" });
    const lockedOut = harness(
      (r) => (r.do === "pin" ? { ok: false, reason: "lockout", tries_left: 0 } : opened(r)),
      answers,
    );
    expect(await settled(lockedOut.vault)).toBe("open");
    expect(lockedOut.requests.map((r) => r.do)).toEqual(["lockout", "pin", "key", "mount"]);
    expect(lockedOut.records.find((r) => r.event === "vault.recovery_used")).toMatchObject({ reason: "lockout" });
  });

  it("stays locked, not failed, when the person declines the PIN; fails when the helper dies", async () => {
    const declined = harness(opened, () => pin(null));
    await drained();
    expect(declined.vault.state()).toBe("locked");
    expect(declined.requests.map((r) => r.do)).toEqual(["lockout"]);
    const dead = harness(
      (r) => (r.do === "pin" ? null : opened(r)),
      () => pin("kestrel42"),
    );
    expect(await settled(dead.vault)).toBe("failed");
    expect(dead.records.at(-1)).toMatchObject({
      event: "vault.unlock_failed",
      error: expect.stringMatching(/the vault helper ended \(status 1\)/),
    });
  });
});

describe("the open vault", () => {
  it("locks from the dashboard only without a write under way, and then says until reboot", async () => {
    const { vault, libc, records } = harness(opened, () => pin("kestrel42"));
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
    const rekey = (r: Request): OpenReply | null =>
      r.mode !== "vault-rekey"
        ? opened(r)
        : r.do === "check"
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
    // The unlock prompt took the wrong PIN too: this helper answers any.
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
