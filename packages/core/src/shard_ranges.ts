import type { ShardRange } from './stage.ts';

/**
 * `[0, count)` in consecutive ranges of `perShard` (the last holds the rest); one empty range when
 * there is nothing. With `mayEndAt`, a range ends at the first row from there on that it allows.
 */
export function shardRanges(count: number, perShard: number, unit?: string, mayEndAt?: (row: number) => boolean): ShardRange[] {
  const size = Math.max(1, Math.floor(perShard));
  const range = (start: number, end: number, index: number): ShardRange => ({ index, start, end, ...(unit ? { unit } : {}) });
  if (count === 0) return [range(0, 0, 0)];
  const ranges: ShardRange[] = [];
  for (let start = 0; start < count; ) {
    let end = Math.min(count, start + size);
    while (end < count && mayEndAt && !mayEndAt(end)) end++;
    ranges.push(range(start, end, ranges.length));
    start = end;
  }
  return ranges;
}
