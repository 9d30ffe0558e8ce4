/**
 * Wires bay0's rooms at boot: loads the image's policies, takes the base
 * images the image helper mounted (init/images.ts), starts the autostart
 * rooms. Policy and image problems are logged and skip only what they concern.
 */
import { policySchema, type Policy } from "../policies/schema.ts";
import type { ImagesReport } from "../rooms/images-report.ts";
import type { PromptAnswer, PromptRequest } from "../console/protocol.ts";
import { createCourier } from "./courier.ts";
import { startUmbilical, type Umbilical } from "./umbilical.ts";
import type { Vault } from "./vault.ts";
import { VAULT_ROOMS, VAULT_STAGING } from "../vault/tools.ts";
import { AUTOSTART_FILE, POLICY_DIR } from "./layout.ts";
import { startRoomBuilder, type RoomBuilder } from "./room-builder.ts";
import { RoomSupervisor } from "../rooms/supervisor.ts";
import { readTextOrNull } from "../sys/files.ts";
import { cgroupFs } from "../sys/cgroup-fs.ts";
import type { Libc } from "../sys/libc.ts";
import type { Log } from "../sys/log.ts";
import type { Spawner } from "../sys/spawn.ts";

export type Rooms = {
  supervisor: RoomSupervisor;
  policies: Map<string, Policy>;
  umbilical: Umbilical;
  builder: RoomBuilder;
  /** The rooms started at boot, by name (the image's autostart list, or the command line's). */
  autostart: string[];
  /** Null once the base images are mounted and every autostart room started; else the first thing that did not. */
  autostarted: Promise<string | null>;
};

type RoomsDeps = {
  libc: Libc;
  log: Log;
  spawner: Spawner;
  ask: () => ((request: PromptRequest) => Promise<PromptAnswer>) | null;
  /** The vault, once it started (its rooms' folders). */
  vault: () => Vault | null;
  /** The image helper's report (init/images.ts): autostart waits for it. */
  mounted: Promise<ImagesReport | null>;
};

export function startRooms({ ask, vault, mounted, ...deps }: RoomsDeps, autostart: string[] | null): Rooms {
  const { log } = deps;
  const policies = new Map<string, Policy>();
  const builder = startRoomBuilder({ ...deps, now: () => performance.now() });

  const images = new Set<string>();
  const umbilical = startUmbilical({
    ...deps,
    now: () => performance.now(),
    supervisor: () => supervisor,
    courier: createCourier({
      ...deps,
      ask,
      running: () => supervisor.list().flatMap((room) => (room.started ? [room.plan] : [])),
      stop: (room) => supervisor.kill(room.id),
      clockMs: () => performance.now(),
      vault: {
        roomsDir: VAULT_ROOMS,
        stagingDir: VAULT_STAGING,
        isOpen: () => vault()?.state() === "open",
        writing: (what) => vault()?.writing(what) ?? null,
      },
    }),
  });
  const supervisor: RoomSupervisor = new RoomSupervisor({
    ...deps,
    umbilical,
    vault: {
      open: (plan) => {
        const started = vault();
        return started === null
          ? "this machine has no vault (no TPM, or no vault partition)"
          : started.rooms.open(plan);
      },
      close: (plan) => vault()?.rooms.close(plan),
    },
    cgroupFs,
    readFile: readTextOrNull,
    builder,
    images: () => images,
    now: () => performance.now(),
    sleep: (ms) => Bun.sleep(ms),
  });

  const names = autostart ?? (readTextOrNull(AUTOSTART_FILE) ?? "").split(/\s+/).filter((n) => n !== "");
  const autostarted = (async (): Promise<string | null> => {
    const report = await mounted;
    for (const name of report?.mounted ?? []) images.add(name);
    for (const error of report?.rejected ?? []) log.error("policy.rejected", error);
    // Parsed by the image helper; checked again here, for bay0 trusts no helper's parse.
    for (const data of report?.policies ?? []) {
      const policy = policySchema.safeParse(data);
      if (policy.success) policies.set(policy.data.name, policy.data);
      else log.error("policy.rejected", { file: POLICY_DIR, field: "", message: policy.error.message.slice(0, 300) });
    }
    log.info("policy.loaded", { policies: [...policies.keys()] });
    let problem = report === null ? "the base images were not mounted" : null;
    for (const name of names) {
      const policy = policies.get(name);
      if (!policy) {
        log.error("room.failed", { room: name, reason: `no valid policy named '${name}'` });
        problem ??= `no valid policy named '${name}'`;
        continue;
      }
      // start() never throws by contract; this guard keeps one broken room from stopping the rest if it ever did.
      const started = await supervisor.start(policy).catch((error: unknown) => {
        log.error("room.failed", { room: name, reason: String(error) });
        return { ok: false as const, reason: String(error) };
      });
      if (!started.ok) problem ??= `room ${name} did not start: ${started.reason}`;
    }
    return problem;
  })().catch((error: unknown) => {
    log.error("bay0.error", { where: "rooms.autostart", error: String(error) });
    return String(error);
  });
  return { supervisor, policies, umbilical, builder, autostart: names, autostarted };
}
