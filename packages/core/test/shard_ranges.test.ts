import { describe, expect, it } from 'vitest';
import { shardRanges } from '../src/index.ts';

const bounds = (ranges: ReturnType<typeof shardRanges>): Array<[number, number]> => ranges.map((r) => [r.start, r.end]);

describe('shardRanges', () => {
  it('cuts consecutive ranges of the shard size, the last holding the rest', () => {
    expect(bounds(shardRanges(10, 4))).toEqual([[0, 4], [4, 8], [8, 10]]);
    expect(shardRanges(0, 4)).toEqual([{ index: 0, start: 0, end: 0 }]);
  });

  it('with mayEndAt, ends each range at the first row from the shard size on that it allows', () => {
    // Boundaries at multiples of 5 (record batches of 5 rows), and at 17 (the end of a split).
    const allowed = (row: number): boolean => row % 5 === 0 || row === 17;
    expect(bounds(shardRanges(23, 4, 'rows', allowed))).toEqual([[0, 5], [5, 10], [10, 15], [15, 20], [20, 23]]);
    expect(bounds(shardRanges(23, 2, 'rows', allowed))).toEqual([[0, 5], [5, 10], [10, 15], [15, 17], [17, 20], [20, 23]]);
  });
});
