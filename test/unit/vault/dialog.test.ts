import { describe, expect, it } from "vitest";
import type { PromptAnswer, PromptRequest } from "../../../console/protocol.ts";
import { createLog, type LogRecord } from "../../../sys/log.ts";
import { memorySink } from "../memory-sink.ts";
import { rekeyDialog, unlockDialog } from "../../../vault/dialog.ts";
import type { RekeyRequest } from "../../../vault/rekey.ts";
import type { OpenRequest } from "../../../vault/open.ts";
import type { OpenReply } from "../../../vault/dialog.ts";
import type { VaultReport } from "../../../vault/open-protocol.ts";

const PARTITION = { device: "/dev/vda4", disk: "/dev/vda", number: 4 };
const KEY = "aaaaaaaa-bbbbbbbb-cccccccc-dddddddd-eeeeeeee-ffffffff-gggggggg-hhhhhhhh";

type Request = OpenRequest & { [field: string]: unknown };
/** What the fake helper's steps answer each request with. */
type Script = (request: Request) => OpenReply;
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
 * The dialog with fake steps (the requests they get, in order), a fake
 * person at the prompt, what it reports to bay0 and the log's records:
 * the vault's dialog without a VM, a TPM or a disk.
 */
function harness(script: Script, person: Person) {
  const records: LogRecord[] = [];
  const requests: Request[] = [];
  const prompts: PromptRequest[] = [];
  const reports: VaultReport[] = [];
  const done = unlockDialog(
    {
      log: createLog([memorySink(records)]),
      ask: async (request) => {
        prompts.push(request);
        return person(request, prompts.length);
      },
      step: (request) => {
        requests.push(request);
        return script(request);
      },
      report: (report) => void reports.push(report),
      now: () => 0,
    },
    PARTITION,
  );
  /** Where bay0 would say the vault stands once the dialog has ended. */
  const settled = async (): Promise<string> => {
    await done;
    const last = reports.at(-1);
    return last === undefined ? "locked" : "state" in last ? last.state : "open";
  };
  return { settled, records, requests, prompts, reports, events: () => records.map((r) => r.event) };
}

describe("the vault at boot", () => {
  it("provisions a blank partition: a new PIN twice, the recovery key shown, and finished only after the person confirmed it", async () => {
    const seen: string[] = [];
    const { settled, requests, prompts, events, reports } = harness(
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
    expect(await settled()).toBe("open");
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
    expect(events()).toEqual(["vault.absent", "vault.provisioning", "vault.provisioned", "vault.finished"]);
    // bay0 logs vault.unlocked once told.
    expect(reports.at(-1)).toEqual({ opened: { how: "provisioned", barrier: true, audit: null } });
  });

  it("asks a mistyped new PIN again, and sets nothing up when the person declines", async () => {
    const typed = ["kestrel42", "kestrel43", "osprey993", "osprey993"];
    const { settled, requests, prompts } = harness(
      (r) =>
        r.do === "lockout"
          ? { ok: true, taken: false, insecure: null, partition: "provisioning" }
          : r.do === "provision"
            ? { ok: true, recovery_key: KEY, binding: "pcr7" }
            : opened(r),
      (request, n) => (request.kind === "confirm" ? { kind: "confirm" } : pin(typed[n - 1] ?? null)),
    );
    expect(await settled()).toBe("open");
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
    await declined.settled();
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
    expect(await insecure.settled()).toBe("unavailable");
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
    expect(await taken.settled()).toBe("unavailable");
    expect(taken.records.at(-1)).toMatchObject({ event: "vault.provision_failed", step: "lockout-auth" });
    expect([...insecure.requests, ...taken.requests].map((r) => r.do)).toEqual(["lockout", "lockout"]);
  });

  it("never sets up over a partition that is neither blank nor a vault", async () => {
    const { settled, records, prompts } = harness(
      (r) => (r.do === "lockout" ? { ok: true, taken: false, insecure: null, partition: "foreign" } : opened(r)),
      () => pin("x"),
    );
    expect(await settled()).toBe("unavailable");
    expect(records.at(-1)?.reason).toMatch(/never set up over/);
    expect(prompts).toEqual([]);
  });

  it("says how many tries a wrong PIN leaves, then opens with the right one", async () => {
    const { settled, requests, prompts, events, reports } = harness(
      (r) =>
        r.do === "pin"
          ? r.pin === "kestrel42"
            ? { ok: true, attach_ms: 5 }
            : { ok: false, reason: "pin", tries_left: 2 }
          : opened(r),
      (_, n) => pin(n === 1 ? "harrier17" : "kestrel42"),
    );
    expect(await settled()).toBe("open");
    expect(prompts.map((p) => p.title)).toEqual(["Vault: unlock", "Vault: wrong PIN, 2 tries left"]);
    expect(requests.map((r) => r.do)).toEqual(["lockout", "pin", "pin", "mount"]);
    expect(events()).toEqual(["vault.unlock_failed"]);
    expect(reports).toEqual([{ opened: { how: "pin", ms: 0, attach_ms: 5, barrier: true, audit: null } }]);
  });

  it("after a refusing TPM opens with the recovery key and seals a new PIN; after a lockout, seals nothing", async () => {
    const answers = (request: PromptRequest): PromptAnswer =>
      pin(request.kind === "secret" && request.label === "Recovery key" ? KEY : "osprey993");
    const refused = harness((r) => (r.do === "pin" ? { ok: false, reason: "pcr", tries_left: 3 } : opened(r)), answers);
    expect(await refused.settled()).toBe("open");
    expect(refused.requests.map((r) => r.do)).toEqual(["lockout", "pin", "key", "reseal", "mount"]);
    expect(refused.requests[3]).toMatchObject({ key: KEY, pin: "osprey993" });
    const lockedOut = harness(
      (r) => (r.do === "pin" ? { ok: false, reason: "lockout", tries_left: 0 } : opened(r)),
      answers,
    );
    expect(await lockedOut.settled()).toBe("open");
    expect(lockedOut.requests.map((r) => r.do)).toEqual(["lockout", "pin", "key", "mount"]);
    expect(lockedOut.records.find((r) => r.event === "vault.recovery_used")).toMatchObject({ reason: "lockout" });
  });

  it("stays locked, not failed, when the person declines the PIN; fails when the TPM or its tools fail", async () => {
    const declined = harness(opened, () => pin(null));
    expect(await declined.settled()).toBe("locked");
    expect(declined.requests.map((r) => r.do)).toEqual(["lockout"]);
    const broken = harness(
      (r) => (r.do === "pin" ? { ok: false, reason: "unknown", error: "/dev/tpmrm0 did not answer" } : opened(r)),
      () => pin("kestrel42"),
    );
    expect(await broken.settled()).toBe("failed");
    expect(broken.prompts).toHaveLength(1);
    expect(broken.records.at(-1)).toMatchObject({ event: "vault.unlock_failed", error: "/dev/tpmrm0 did not answer" });
  });
});

describe("a new recovery key's dialog", () => {
  const NEW_KEY = "hhhhhhhh-gggggggg-ffffffff-eeeeeeee-dddddddd-cccccccc-bbbbbbbb-aaaaaaaa";
  const steps = (r: RekeyRequest): OpenReply =>
    r.do === "check"
      ? r.pin === "kestrel42"
        ? { ok: true }
        : { ok: false, reason: "pin", tries_left: 1 }
      : r.do === "enrol"
        ? { ok: true, recovery_key: NEW_KEY }
        : { ok: true };

  it("makes a new recovery key only after the TPM passed the PIN, and removes the old one only after the person confirmed the new", async () => {
    const records: LogRecord[] = [];
    const requests: RekeyRequest[] = [];
    const prompts: PromptRequest[] = [];
    const confirmed: string[] = [];
    let typed = "harrier17";
    const deps = {
      log: createLog([memorySink(records)]),
      ask: async (request: PromptRequest): Promise<PromptAnswer> => {
        prompts.push(request);
        if (request.kind === "confirm") confirmed.push(requests.map((r) => r.do).join(","));
        return request.kind === "secret" ? pin(typed) : { kind: "confirm" };
      },
      step: (request: RekeyRequest) => {
        requests.push(request);
        return steps(request);
      },
    };
    expect(await rekeyDialog(deps, "/dev/vda4")).toBe("wrong PIN, 1 try left");
    expect(requests.map((r) => r.do)).toEqual(["check"]);
    expect(records.at(-1)).toMatchObject({ event: "vault.recovery_key_refused", reason: "pin", tries_left: 1 });
    typed = "kestrel42";
    expect(await rekeyDialog(deps, "/dev/vda4")).toBeNull();
    expect(requests.map((r) => r.do)).toEqual(["check", "check", "enrol", "retire"]);
    expect(confirmed.at(-1)).toMatch(/check,enrol$/);
    expect(prompts.at(-1)).toMatchObject({ kind: "confirm", title: "Vault: your new recovery key" });
    expect(records.at(-1)).toMatchObject({ event: "vault.recovery_key_replaced", device: "/dev/vda4" });
    typed = "";
    const declined = { ...deps, ask: async (): Promise<PromptAnswer> => pin(null) };
    expect(await rekeyDialog(declined, "/dev/vda4")).toBe("the recovery key stays as it is");
    expect(JSON.stringify(records)).not.toContain("kestrel42");
  });
});
