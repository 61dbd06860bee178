/** Small numeric helpers the benchmarks share. */

export const round = (x: number, digits = 2): number => Math.round(x * 10 ** digits) / 10 ** digits;

/** The middle value (the upper one of an even count): robust to one slow run on a shared machine. */
export const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
