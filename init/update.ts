/**
 * Updates, bay0's side. The update helper (update/run.ts) does the work;
 * bay0 decides when. On a trial boot (the loader is trying a new version:
 * it set LoaderBootCountPath), the version is blessed once it is healthy,
 * and only then may the vault ask for the PIN: a trial image that took the
 * PIN and then wedged would cost a try of the TPM's dictionary-attack
 * lockout. Not healthy in time, it reboots, and the loader counts the try.
 * On any other boot the helper clears what earlier boots left and offers
 * an update it finds, at the console (or, headless, installs it).
 */
import { existsSync } from "node:fs";
import { fromUpdateHelperSchema } from "../update/protocol.ts";
import type { PromptAnswer, PromptRequest } from "../console/protocol.ts";
import type { Log } from "../sys/log.ts";
import type { Spawner } from "../sys/spawn.ts";
import { converse } from "./helper.ts";
import type { Rooms } from "./rooms.ts";

const COUNT_PATH = "/sys/firmware/efi/efivars/LoaderBootCountPath-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f";
/** A trial boot not healthy by then reboots (the base images alone may take minutes on a slow disk). */
const HEALTH_DEADLINE_MS = 15 * 60_000;
/** Autostart rooms must still run this long after they all started. */
const SETTLE_MS = 10_000;

type UpdateDeps = { spawner: Spawner; log: Log; sleep: (ms: number) => Promise<void> };
type Ask = (request: PromptRequest) => Promise<PromptAnswer>;

/** Whether the loader is trying this version. */
export const onTrial = (): boolean => existsSync(COUNT_PATH);

/** Null once the base images are mounted and every autostart room started and still runs after SETTLE_MS; else why not. */
export async function health(rooms: Rooms, sleep: (ms: number) => Promise<void>): Promise<string | null> {
  const problem = await rooms.autostarted;
  if (problem !== null) return problem;
  await sleep(SETTLE_MS);
  const running = new Set(rooms.supervisor.list().flatMap((room) => (room.started ? [room.id] : [])));
  const gone = rooms.autostart.filter((name) => !running.has(name));
  return gone.length === 0 ? null : `${gone.join(", ")} not running ${SETTLE_MS / 1000} s after the autostart`;
}

/** A trial boot: blessed once `healthy` resolves to null; else (or not in time, or not blessed) `reboot`. Whether it was blessed. */
export async function blessWhenHealthy(
  deps: UpdateDeps,
  healthy: Promise<string | null>,
  reboot: () => void,
): Promise<boolean> {
  const late = deps.sleep(HEALTH_DEADLINE_MS).then(() => `not healthy within ${HEALTH_DEADLINE_MS / 60_000} min`);
  const problem = await Promise.race([healthy, late]);
  const blessed = problem === null ? await Promise.race([run(deps, ["update", "bless"], null), late]) : null;
  if (blessed === "blessed") return true;
  deps.log.error("update.unhealthy", { reason: problem ?? "healthy, but the update helper did not bless it" });
  reboot();
  return false;
}

/** A boot that is not a trial: what earlier boots left is cleared, and an update found is offered through `ask` (null: headless). */
export const offerUpdates = async (deps: UpdateDeps, slot: "a" | "b", ask: Ask | null): Promise<void> =>
  void (await run(deps, ["update", "offer", slot, ask === null ? "headless" : "console"], ask));

/** The helper's dialog: how it said it ended, or null when it did not. */
async function run(deps: UpdateDeps, args: string[], ask: Ask | null): Promise<string | null> {
  let done: string | null = null;
  const ended = await converse(deps, args, {
    prefix: "update",
    reply: fromUpdateHelperSchema,
    ask,
    onReport: (report) => {
      done = report.done;
      return true;
    },
  });
  if (ended !== null) deps.log.error("update.failed", { reason: ended });
  return done;
}
