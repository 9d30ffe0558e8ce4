import type { Log } from "../sys/log.ts";
import type { Spawner } from "../sys/spawn.ts";

/**
 * `anchor.run=PATH`: runs one program once after bay0 is ready (like
 * systemd.run=), logging each output line as `run.output` and its end as
 * `run.exited`. Resolves when it has exited.
 */
export async function runOnce(spawner: Spawner, log: Log, path: string): Promise<void> {
  log.info("run.started", { path });
  let child;
  try {
    child = spawner.spawn([path], (stream, line) => log.info("run.output", { path, stream, line }));
  } catch (error) {
    log.error("run.exited", { path, status: null, signal: null, error: String(error) });
    return;
  }
  const exit = await child.exited;
  log.info("run.exited", { path, pid: child.pid, status: exit.status, signal: exit.signal });
}
