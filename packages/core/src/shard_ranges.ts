import type { ShardRange } from './stage.ts';

/** `[0, count)` in consecutive ranges of `perShard` (the last holds the rest); one empty range when there is nothing. */
export function shardRanges(count: number, perShard: number): ShardRange[] {
  const size = Math.max(1, Math.floor(perShard));
  if (count === 0) return [{ index: 0, start: 0, end: 0 }];
  const ranges: ShardRange[] = [];
  for (let start = 0; start < count; start += size) ranges.push({ index: ranges.length, start, end: Math.min(count, start + size) });
  return ranges;
}
