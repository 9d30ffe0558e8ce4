import { connect, type Socket } from "node:net";

export type QmpEvent = { event: string; data?: Record<string, unknown>; hostMs: number };

type Pending = { resolve: (value: unknown) => void; reject: (error: Error) => void };

/** A minimal QMP client: capabilities handshake, commands by id, events with host arrival times. */
export class Qmp {
  readonly events: QmpEvent[] = [];
  private buffer = "";
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Set<() => void>();

  private constructor(private readonly socket: Socket) {
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => this.onData(chunk));
    socket.on("error", () => this.failAll(new Error("QMP socket error")));
    socket.on("close", () => this.failAll(new Error("QMP socket closed")));
  }

  static async connect(path: string, timeoutMs = 20_000): Promise<Qmp> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const socket = await new Promise<Socket>((resolve, reject) => {
          const s = connect(path, () => resolve(s));
          s.once("error", reject);
        });
        const qmp = new Qmp(socket);
        await qmp.command("qmp_capabilities");
        return qmp;
      } catch (error) {
        if (Date.now() > deadline) throw new Error(`QMP at ${path} not reachable: ${String(error)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  command(execute: string, args?: Record<string, unknown>): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.socket.write(`${JSON.stringify({ execute, id, ...(args ? { arguments: args } : {}) })}\n`);
    });
  }

  /** Resolves with the first event of that name (already seen or future). */
  waitForEvent(name: string, timeoutMs: number): Promise<QmpEvent> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const found = this.events.find((e) => e.event === name);
        if (found) {
          clearTimeout(timer);
          this.listeners.delete(listener);
          resolve(found);
        }
        return found !== undefined;
      };
      const listener = (): void => void check();
      const timer = setTimeout(() => {
        this.listeners.delete(listener);
        reject(
          new Error(`no QMP ${name} event within ${timeoutMs} ms; saw ${this.events.map((e) => e.event).join(", ")}`),
        );
      }, timeoutMs);
      if (!check()) this.listeners.add(listener);
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    let newline = this.buffer.indexOf("\n");
    while (newline >= 0) {
      const line = this.buffer.slice(0, newline).trim();
      this.buffer = this.buffer.slice(newline + 1);
      newline = this.buffer.indexOf("\n");
      if (line === "") continue;
      const message = JSON.parse(line) as {
        id?: number;
        return?: unknown;
        error?: { desc: string };
        event?: string;
        data?: Record<string, unknown>;
      };
      if (message.event !== undefined) {
        this.events.push({ event: message.event, data: message.data, hostMs: performance.now() });
        for (const listener of [...this.listeners]) listener();
      } else if (message.id !== undefined) {
        const waiter = this.pending.get(message.id);
        this.pending.delete(message.id);
        if (message.error) waiter?.reject(new Error(`QMP error: ${message.error.desc}`));
        else waiter?.resolve(message.return);
      }
    }
  }

  private failAll(error: Error): void {
    for (const waiter of this.pending.values()) waiter.reject(error);
    this.pending.clear();
  }
}
