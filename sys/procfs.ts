import { readdirSync, readFileSync } from "node:fs";

export type ProcStat = { pid: number; comm: string; state: string; ppid: number };

/** Parses /proc/PID/stat; the command name may itself hold spaces and parentheses. */
export function parseProcStat(text: string): ProcStat | null {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 0 || close < open) return null;
  const pid = Number.parseInt(text.slice(0, open), 10);
  const rest = text.slice(close + 2).split(" ");
  const state = rest[0];
  const ppid = Number.parseInt(rest[1] ?? "", 10);
  if (!Number.isInteger(pid) || state === undefined || !Number.isInteger(ppid)) return null;
  return { pid, comm: text.slice(open + 1, close), state, ppid };
}

/** Every process visible in /proc now (processes may vanish while we read). */
export function listProcesses(procRoot = "/proc"): ProcStat[] {
  const stats: ProcStat[] = [];
  for (const name of readdirSync(procRoot)) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = parseProcStat(readFileSync(`${procRoot}/${name}/stat`, "utf8"));
      if (stat) stats.push(stat);
    } catch {
      // The process exited between readdir and read.
    }
  }
  return stats;
}

/** Kernel threads descend from kthreadd (PID 2); they are not ours to signal or wait for. */
export function isUserProcess(stat: ProcStat, self: number): boolean {
  return stat.pid !== self && stat.pid !== 2 && stat.ppid !== 2;
}

/** Mount points now, in mount order (from /proc/self/mountinfo). */
export function mountPoints(mountinfo = "/proc/self/mountinfo"): string[] {
  let text = "";
  try {
    text = readFileSync(mountinfo, "utf8");
  } catch {
    return [];
  }
  return text
    .split("\n")
    .map((line) => line.split(" ")[4])
    .filter((p): p is string => p !== undefined && p !== "");
}

/** Memory in use (MemTotal - MemAvailable, KiB) from /proc/meminfo's text, or null if it lacks either. */
export function memoryInUseKb(meminfo: string): number | null {
  const field = (name: string): number | undefined => {
    const value = new RegExp(`^${name}:\\s+(\\d+) kB$`, "m").exec(meminfo)?.[1];
    return value === undefined ? undefined : Number(value);
  };
  const total = field("MemTotal");
  const available = field("MemAvailable");
  return total === undefined || available === undefined ? null : total - available;
}
