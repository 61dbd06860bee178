import { createHash } from 'node:crypto';

/**
 * Seeded pseudo-random numbers. Every random choice in the pipeline (split, augmentation,
 * shuffles, initialisers) derives its stream from named parts, e.g. (seed, image sha256, view),
 * so results never depend on worker count, scheduling or file-system order.
 */
export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform in [low, high). */
  uniform(low: number, high: number): number;
  /** Integer in [0, n). */
  int(n: number): number;
}

/** 32-bit seed from any parts, stable across machines: the first 4 bytes of sha256 of their JSON. */
export function seedFrom(...parts: Array<string | number>): number {
  return createHash('sha256').update(JSON.stringify(parts)).digest().readUInt32LE(0);
}

/** Mulberry32: small, fast, good enough for shuffles and augmentation parameters. */
export function createRandom(...parts: Array<string | number>): Random {
  let state = seedFrom(...parts);
  const next = (): number => {
    state = (state + 0x6d2b79f5) | 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    uniform: (low, high) => low + (high - low) * next(),
    int: (n) => Math.floor(next() * n),
  };
}

/** Fisher-Yates shuffle in place with the given stream; returns the array. */
export function shuffleInPlace<T>(items: T[], random: Random): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = random.int(i + 1);
    const tmp = items[i]!;
    items[i] = items[j]!;
    items[j] = tmp;
  }
  return items;
}
