import { UserError } from './errors.ts';

/**
 * Option values arrive as strings from flags, as JSON values from --config and as typed values
 * from presets; these turn any of them into the typed value or one line naming the flag.
 */
export const flagName = (key: string): string => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** A number; "a/b" is accepted for ratios such as --rescale 1/255. */
export function toNumber(value: unknown, key: string): number {
  const fraction = typeof value === 'string' ? /^\s*([\d.eE+-]+)\s*\/\s*([\d.eE+-]+)\s*$/.exec(value) : null;
  const n = fraction
    ? Number(fraction[1]) / Number(fraction[2])
    : typeof value === 'number'
      ? value
      : typeof value === 'string' && value.trim() !== ''
        ? Number(value)
        : NaN;
  if (!Number.isFinite(n)) throw new UserError(`${flagName(key)} must be a number, got '${String(value)}'`);
  return n;
}

export function toPositive(value: unknown, key: string): number {
  const n = toNumber(value, key);
  if (!(n > 0)) throw new UserError(`${flagName(key)} must be a positive number, got ${n}`);
  return n;
}

/** A whole number >= min (and <= max when given). */
export function toInt(value: unknown, key: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const n = toNumber(value, key);
  if (!Number.isInteger(n) || n < min) throw new UserError(`${flagName(key)} must be a whole number >= ${min}, got ${n}`);
  if (n > max) throw new UserError(`${flagName(key)} must be at most ${max}, got ${n}`);
  return n;
}

/** A number in [min, maxExclusive). */
export function toFraction(value: unknown, key: string, min: number, maxExclusive: number): number {
  const n = toNumber(value, key);
  if (n < min || n >= maxExclusive) throw new UserError(`${flagName(key)} must be in [${min}, ${maxExclusive}), got ${n}`);
  return n;
}

export function toChoice<T extends string>(value: unknown, key: string, choices: readonly T[]): T {
  if (typeof value === 'string' && (choices as readonly string[]).includes(value)) return value as T;
  throw new UserError(`${flagName(key)} must be one of ${choices.join(', ')}, got '${String(value)}'`);
}

export function toBool(value: unknown, key: string): boolean {
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === '1' || value === 1) return true;
  if (value === 'false' || value === '0' || value === 0) return false;
  throw new UserError(`${flagName(key)} must be true or false, got '${String(value)}'`);
}
