/** A kernel configuration as option name -> value ("y", "8", "\"lockdown\"", or "n" for "is not set"). */
export type KernelConfig = Map<string, string>;

/**
 * Parses a .config or a fragment. Comment lines are ignored except the
 * `# CONFIG_X is not set` form, which means "n".
 */
export function parseKernelConfig(text: string): KernelConfig {
  const config: KernelConfig = new Map();
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    const unset = /^# (CONFIG_[A-Za-z0-9_]+) is not set$/.exec(line);
    if (unset?.[1] !== undefined) {
      config.set(unset[1], "n");
      continue;
    }
    const set = /^(CONFIG_[A-Za-z0-9_]+)=(.*)$/.exec(line);
    if (set?.[1] !== undefined && set[2] !== undefined) config.set(set[1], set[2]);
  }
  return config;
}

export type DroppedOption = { option: string; wanted: string; got: string };

/**
 * The fragment options that did not take effect in the final .config. Kconfig
 * merge tools drop an option silently when one of its dependencies is off;
 * an option that is absent from .config counts as "n".
 */
export function droppedOptions(fragment: KernelConfig, final: KernelConfig): DroppedOption[] {
  const dropped: DroppedOption[] = [];
  for (const [option, wanted] of fragment) {
    const got = final.get(option) ?? "n";
    if (got !== wanted) dropped.push({ option, wanted, got });
  }
  return dropped;
}
