import type { ShardRange } from './stage.ts';

/** `[0, count)` in consecutive ranges of `perShard` (the last holds the rest); one empty range when there is nothing. */
export function shardRanges(count: number, perShard: number, unit?: string): ShardRange[] {
  const size = Math.max(1, Math.floor(perShard));
  const range = (start: number, end: number, index: number): ShardRange => ({ index, start, end, ...(unit ? { unit } : {}) });
  if (count === 0) return [range(0, 0, 0)];
  const ranges: ShardRange[] = [];
  for (let start = 0; start < count; start += size) ranges.push(range(start, Math.min(count, start + size), ranges.length));
  return ranges;
}
