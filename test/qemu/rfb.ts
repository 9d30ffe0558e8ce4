import { connect, type Socket } from "node:net";
import type { Screen } from "./screen.ts";

/**
 * A VNC viewer in a few lines of the RFB protocol (RFC 6143): version 3.8,
 * no authentication, 32-bit true colour, raw rectangles and the DesktopSize
 * pseudo-encoding (bay0 changes the mode after the firmware). Enough to read
 * what a person would see and type what they would type.
 */
export class RfbClient {
  private buffered = Buffer.alloc(0);
  private wake: (() => void) | null = null;
  private closed: Error | null = null;
  private width = 0;
  private height = 0;
  private pixels = new Uint8Array(0);

  private constructor(private readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      this.wake?.();
    });
    const end = (error?: Error): void => {
      this.closed = error ?? new Error("the VNC server closed the connection");
      this.wake?.();
    };
    socket.on("error", end);
    socket.on("close", () => end());
  }

  static async connect(host: string, port: number): Promise<RfbClient> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect(port, host, () => resolve(s));
      s.once("error", reject);
    });
    const client = new RfbClient(socket);
    await client.handshake();
    return client;
  }

  private async read(n: number): Promise<Buffer> {
    while (this.buffered.length < n) {
      if (this.closed) throw this.closed;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = null;
    }
    const out = this.buffered.subarray(0, n);
    this.buffered = this.buffered.subarray(n);
    return out;
  }

  private async handshake(): Promise<void> {
    const version = (await this.read(12)).toString("latin1");
    if (!/^RFB 003\.00[3-8]\n$/.test(version)) throw new Error(`not an RFB server: ${JSON.stringify(version)}`);
    this.socket.write("RFB 003.008\n");
    const count = (await this.read(1))[0] ?? 0;
    if (count === 0)
      throw new Error(`VNC server refused: ${(await this.read((await this.read(4)).readUInt32BE(0))).toString()}`);
    const types = [...(await this.read(count))];
    if (!types.includes(1)) throw new Error(`VNC server wants authentication (security types ${types.join(",")})`);
    this.socket.write(Buffer.from([1]));
    if ((await this.read(4)).readUInt32BE(0) !== 0) throw new Error("VNC security handshake failed");
    this.socket.write(Buffer.from([1])); // ClientInit: shared
    const init = await this.read(24);
    this.resize(init.readUInt16BE(0), init.readUInt16BE(2));
    await this.read(init.readUInt32BE(20)); // the desktop's name
    // SetPixelFormat: 32 bpp, depth 24, little-endian, true colour, 8 bits a channel at 16/8/0.
    const format = Buffer.alloc(20);
    format.writeUInt8(0, 0);
    Buffer.from([32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0]).copy(format, 4);
    this.socket.write(format);
    // SetEncodings: raw, DesktopSize.
    const encodings = Buffer.alloc(12);
    encodings.writeUInt8(2, 0);
    encodings.writeUInt16BE(2, 2);
    encodings.writeInt32BE(0, 4);
    encodings.writeInt32BE(-223, 8);
    this.socket.write(encodings);
  }

  private resize(width: number, height: number): void {
    this.width = width;
    this.height = height;
    this.pixels = new Uint8Array(width * height * 3);
  }

  /** Asks for the whole screen and returns it once the server has sent every rectangle of its answer. */
  async frame(): Promise<Screen> {
    const request = Buffer.alloc(10);
    request.writeUInt8(3, 0);
    request.writeUInt8(0, 1); // not incremental: every pixel
    request.writeUInt16BE(this.width, 6);
    request.writeUInt16BE(this.height, 8);
    this.socket.write(request);
    for (;;) {
      const type = (await this.read(1))[0];
      if (type === 2) continue; // Bell
      if (type === 3) {
        const header = await this.read(7);
        await this.read(header.readUInt32BE(3)); // cut text
        continue;
      }
      if (type !== 0) throw new Error(`unexpected RFB server message ${String(type)}`);
      const header = await this.read(3);
      let resized = false;
      for (let rects = header.readUInt16BE(1); rects > 0; rects--) {
        const rect = await this.read(12);
        const [x, y, w, h] = [rect.readUInt16BE(0), rect.readUInt16BE(2), rect.readUInt16BE(4), rect.readUInt16BE(6)];
        const encoding = rect.readInt32BE(8);
        if (encoding === -223) {
          this.resize(w, h);
          resized = true;
          continue;
        }
        if (encoding !== 0) throw new Error(`unexpected RFB encoding ${encoding}`);
        const data = await this.read(w * h * 4);
        for (let row = 0; row < h; row++) {
          for (let col = 0; col < w; col++) {
            const from = (row * w + col) * 4;
            const to = ((y + row) * this.width + x + col) * 3;
            this.pixels[to] = data[from + 2] ?? 0;
            this.pixels[to + 1] = data[from + 1] ?? 0;
            this.pixels[to + 2] = data[from] ?? 0;
          }
        }
      }
      // After a mode change the pixels come in the next answer.
      if (resized) return this.frame();
      return { width: this.width, height: this.height, rgb: this.pixels.slice() };
    }
  }

  /** Presses and releases one key (an X11 keysym: 0x20-0x7e are their ASCII, 0xff0d Return, 0xff1b Escape). */
  key(keysym: number): void {
    for (const down of [1, 0]) {
      const event = Buffer.alloc(8);
      event.writeUInt8(4, 0);
      event.writeUInt8(down, 1);
      event.writeUInt32BE(keysym, 4);
      this.socket.write(event);
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

/** The TCP sockets listening on `port` (from /proc/net/tcp and tcp6 text), as local addresses in hex. */
export function listeners(procNetTcp: string[], port: number): string[] {
  const wanted = port.toString(16).toUpperCase().padStart(4, "0");
  return procNetTcp
    .flatMap((text) => text.split("\n").slice(1))
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields[3] === "0A" && fields[1]?.endsWith(`:${wanted}`))
    .map((fields) => (fields[1] ?? "").split(":")[0] ?? "");
}
