import type { Command } from 'commander';

export type OptionValues = Record<string, unknown>;

/**
 * Layers option values: a flag given on the command line wins over the config file, which wins
 * over the experiment preset, which wins over the built-in default.
 */
export function layerOptions(command: Command, config: OptionValues, preset: OptionValues, defaults: OptionValues): OptionValues {
  const given = command.opts();
  const keys = new Set([...Object.keys(defaults), ...Object.keys(preset), ...Object.keys(config), ...Object.keys(given)]);
  const merged: OptionValues = {};
  for (const key of keys) {
    if (command.getOptionValueSource(key) === 'cli' && given[key] !== undefined) merged[key] = given[key];
    else if (config[key] !== undefined) merged[key] = config[key];
    else if (preset[key] !== undefined) merged[key] = preset[key];
    else merged[key] = defaults[key];
  }
  return merged;
}

