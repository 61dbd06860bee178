import type { Command } from 'commander';

export type OptionValues = Record<string, unknown>;

export interface LayeredOptions {
  values: OptionValues;
  /** Keys whose value the user gave (a flag or the config file), not a preset or a default. */
  explicit: ReadonlySet<string>;
}

/**
 * Layers option values: a flag given on the command line wins over the config file, which wins
 * over the experiment preset, which wins over the built-in default.
 */
export function layerOptions(command: Command, config: OptionValues, preset: OptionValues, defaults: OptionValues): LayeredOptions {
  const given = command.opts();
  const keys = new Set([...Object.keys(defaults), ...Object.keys(preset), ...Object.keys(config), ...Object.keys(given)]);
  const values: OptionValues = {};
  const explicit = new Set<string>();
  for (const key of keys) {
    const flag = command.getOptionValueSource(key) === 'cli' && given[key] !== undefined;
    if (flag || config[key] !== undefined) explicit.add(key);
    if (flag) values[key] = given[key];
    else if (config[key] !== undefined) values[key] = config[key];
    else if (preset[key] !== undefined) values[key] = preset[key];
    else values[key] = defaults[key];
  }
  return { values, explicit };
}

/** Levenshtein distance, case-insensitive. */
function editDistance(a: string, b: string): number {
  const [x, y] = [a.toLowerCase(), b.toLowerCase()];
  let previous = Array.from({ length: y.length + 1 }, (_v, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const current = [i];
    for (let j = 1; j <= y.length; j++) current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1));
    previous = current;
  }
  return previous[y.length]!;
}

/** The candidate closest to `name` by edit distance (the first of equals). */
export function nearestName(name: string, candidates: readonly string[]): string {
  return candidates.reduce((best, candidate) => (editDistance(name, candidate) < editDistance(name, best) ? candidate : best));
}
