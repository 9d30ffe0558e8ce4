import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";

/**
 * Starts a software TPM 2.0 whose state lives in `stateDir` and waits for its
 * control socket. swtpm exits by itself when QEMU disconnects.
 */
export async function startSwtpm(
  stateDir: string,
  socketDir = stateDir,
): Promise<{ socket: string; process: ChildProcess }> {
  mkdirSync(stateDir, { recursive: true });
  const socket = join(socketDir, "swtpm.sock");
  const proc = spawn(
    "swtpm",
    ["socket", "--tpm2", "--tpmstate", `dir=${stateDir}`, "--ctrl", `type=unixio,path=${socket}`],
    { stdio: "ignore" },
  );
  for (let i = 0; i < 100 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 50));
  if (!existsSync(socket)) throw new Error("swtpm did not create its control socket");
  return { socket, process: proc };
}
