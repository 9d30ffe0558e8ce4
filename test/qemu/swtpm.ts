import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A software TPM whose data socket takes raw TPM 2.0 commands, as /dev/tpmrm0 does; fresh state in its own directory. */
export type SocketTpm = { send(command: Uint8Array): Promise<Buffer>; stop(): void };

export async function startSocketTpm(): Promise<SocketTpm> {
  const scratch = mkdtempSync(join(tmpdir(), "anchor-swtpm-"));
  const data = join(scratch, "tpm.sock");
  const swtpm = spawn(
    "swtpm",
    [
      "socket",
      "--tpm2",
      "--tpmstate",
      `dir=${scratch}`,
      "--server",
      `type=unixio,path=${data}`,
      "--ctrl",
      `type=unixio,path=${join(scratch, "ctrl.sock")}`,
      "--flags",
      "not-need-init,startup-clear",
    ],
    { stdio: "ignore" },
  );
  for (let i = 0; i < 100 && !existsSync(data); i++) await new Promise((r) => setTimeout(r, 50));
  const socket = connect(data);
  await new Promise((resolve) => socket.once("connect", resolve));
  const once = (command: Uint8Array): Promise<Buffer> =>
    new Promise((resolve) => {
      socket.once("data", resolve);
      socket.write(command);
    });
  return {
    // TPM_RC_RETRY sent again, as the kernel's TPM driver does behind /dev/tpmrm0.
    send: async (command) => {
      let reply = await once(command);
      for (let tries = 0; tries < 10 && reply.length >= 10 && reply.readUInt32BE(6) === 0x922; tries++)
        reply = await once(command);
      return reply;
    },
    stop: () => {
      socket.end();
      swtpm.kill();
      rmSync(scratch, { recursive: true, force: true });
    },
  };
}
