import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { CONSOLE_FONT, parsePsf2, type Font } from "../../console/font.ts";
import { OUT } from "./paths.ts";

/** A QMP screendump in PPM (P6) form: what the guest's display shows, pixel for pixel. */
export type Screen = { width: number; height: number; rgb: Uint8Array };

export function readPpm(file: string): Screen {
  const bytes = readFileSync(file);
  // Header: "P6\n<width> <height>\n<max>\n", then RGB triples.
  const fields: string[] = [];
  let i = 0;
  while (fields.length < 4) {
    while (/\s/.test(String.fromCharCode(bytes[i] ?? 0))) i++;
    let field = "";
    while (!/\s/.test(String.fromCharCode(bytes[i] ?? 32))) field += String.fromCharCode(bytes[i++] ?? 0);
    fields.push(field);
  }
  if (fields[0] !== "P6" || fields[3] !== "255") throw new Error(`${file} is not an 8-bit P6 PPM`);
  return { width: Number(fields[1]), height: Number(fields[2]), rgb: new Uint8Array(bytes.subarray(i + 1)) };
}

export function pixelAt(screen: Screen, x: number, y: number): number {
  const o = (y * screen.width + x) * 3;
  return ((screen.rgb[o] ?? 0) << 16) | ((screen.rgb[o + 1] ?? 0) << 8) | (screen.rgb[o + 2] ?? 0);
}

/** The console's own font (the same file bay0 draws with). */
export function consoleFont(): Font {
  return parsePsf2(gunzipSync(readFileSync(CONSOLE_FONT)));
}

/**
 * Reads the screen back as text: each cell's pixels must be exactly one
 * glyph of the font in two colours (or one colour: a blank), else it reads
 * as '\u0000'. Independent of what bay0 says it drew.
 */
export function readText(screen: Screen, font: Font): string[] {
  const byBitmap = new Map<string, string>();
  for (const [cp, index] of [...font.map.entries()].sort((a, b) => b[0] - a[0])) {
    const glyph = font.glyphs[index];
    if (glyph) byBitmap.set(Buffer.from(glyph).toString("hex"), String.fromCodePoint(cp));
  }
  const cols = Math.floor(screen.width / font.width);
  const rows = Math.floor(screen.height / font.height);
  const lines: string[] = [];
  for (let row = 0; row < rows; row++) {
    let line = "";
    for (let col = 0; col < cols; col++) {
      const colours = new Set<number>();
      for (let y = 0; y < font.height; y++)
        for (let x = 0; x < font.width; x++) colours.add(pixelAt(screen, col * font.width + x, row * font.height + y));
      if (colours.size === 1) {
        line += " ";
        continue;
      }
      if (colours.size > 2) {
        line += "\u0000";
        continue;
      }
      let read = "\u0000";
      for (const on of colours) {
        const bitmap = new Uint8Array(font.rowBytes * font.height);
        for (let y = 0; y < font.height; y++) {
          for (let x = 0; x < font.width; x++) {
            const at = y * font.rowBytes + (x >> 3);
            if (pixelAt(screen, col * font.width + x, row * font.height + y) === on)
              bitmap[at] = (bitmap[at] ?? 0) | (0x80 >> (x & 7));
          }
        }
        const found = byBitmap.get(Buffer.from(bitmap).toString("hex"));
        if (found !== undefined && found !== " ") read = found;
      }
      line += read;
    }
    lines.push(line);
  }
  return lines;
}

/** Reads the VM's screen as text (QMP screendump, matched against the console's font); `wait` polls until a line matches. */
export function screenReader(vm: () => { screendump(file: string, format: "ppm"): Promise<unknown> }, prefix: string) {
  const font = consoleFont();
  let shots = 0;
  const text = async (): Promise<string[]> => {
    const file = join(OUT, "test-logs", `${prefix}-${shots++}.ppm`);
    await vm().screendump(file, "ppm");
    return readText(readPpm(file), font);
  };
  const wait = async (pattern: RegExp, timeoutMs = 15_000): Promise<string[]> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const lines = await text();
      if (lines.some((l) => pattern.test(l))) return lines;
      if (Date.now() > deadline) throw new Error(`no screen line matching ${pattern}; screen:\n${lines.join("\n")}`);
      await new Promise((r) => setTimeout(r, 300));
    }
  };
  return { text, wait };
}
