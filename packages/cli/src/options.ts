import type { Command } from 'commander';
import { UserError } from '@flowers/core';

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

const flag = (name: string): string => `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

export function toNumber(value: unknown, name: string, range: { min?: number; max?: number; integer?: boolean } = {}): number {
  const n = typeof value === 'number' ? value : Number(value);
  if (value === undefined || value === '' || !Number.isFinite(n)) throw new UserError(`${flag(name)} must be a number, got '${String(value)}'`);
  if (range.integer && !Number.isInteger(n)) throw new UserError(`${flag(name)} must be a whole number, got ${n}`);
  if (range.min !== undefined && n < range.min) throw new UserError(`${flag(name)} must be at least ${range.min}, got ${n}`);
  if (range.max !== undefined && n > range.max) throw new UserError(`${flag(name)} must be at most ${range.max}, got ${n}`);
  return n;
}

export function toInt(value: unknown, name: string, min?: number, max?: number): number {
  return toNumber(value, name, { integer: true, ...(min !== undefined ? { min } : {}), ...(max !== undefined ? { max } : {}) });
}

export function toBool(value: unknown, name: string): boolean {
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new UserError(`${flag(name)} must be true or false, got '${String(value)}'`);
}

export function toChoice<T extends string>(value: unknown, name: string, choices: readonly T[]): T {
  if (typeof value === 'string' && (choices as readonly string[]).includes(value)) return value as T;
  throw new UserError(`${flag(name)} must be one of ${choices.join(', ')}, got '${String(value)}'`);
}

export function toStringValue(value: unknown, name: string): string {
  if (typeof value === 'string' && value.length > 0) return value;
  if (typeof value === 'number') return String(value);
  throw new UserError(`${flag(name)} needs a value`);
}
