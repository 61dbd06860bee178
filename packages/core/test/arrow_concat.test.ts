import { existsSync, mkdtempSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Float64, makeData } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { ArrowFileSink, concatArrowFiles, Field, fixedSizeListColumn, fixedSizeListField, Int32, int32Column, makeRecordBatch, Schema, Utf8, utf8Column } from '../src/index.ts';

const schema = new Schema(
  [new Field('sha256', new Utf8(), false), new Field('label_index', new Int32(), false), fixedSizeListField('pixels', 3, 'uint8'), fixedSizeListField('features', 2, 'float32')],
  new Map([['size', '1']]),
);

/** Rows `[start, end)` of a made-up table, written in batches of the given sizes, as a stage writes them. */
async function writeRows(file: string, start: number, batchSizes: number[]): Promise<void> {
  const sink = new ArrowFileSink(file, schema);
  let row = start;
  for (const size of batchSizes) {
    const ids = Array.from({ length: size }, (_, i) => row + i);
    sink.write(
      makeRecordBatch(schema, [
        utf8Column(ids.map((id) => `photo-${id}${'x'.repeat(id % 4)}`)),
        int32Column(Int32Array.from(ids, (id) => id % 5)),
        fixedSizeListColumn(Uint8Array.from(ids.flatMap((id) => [id, id + 1, id + 2])), 3),
        fixedSizeListColumn(Float32Array.from(ids.flatMap((id) => [id / 3, -id])), 2),
      ]),
    );
    row += size;
  }
  await sink.close();
}

describe('concatArrowFiles', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'core-concat-'));

  it('re-batches shards of uneven sizes into the batches one writer makes, byte for byte', async () => {
    const whole = path.join(dir, 'whole.arrow');
    await writeRows(whole, 0, [5, 5, 5, 2]);
    const shards = [path.join(dir, 'a.arrow'), path.join(dir, 'b.arrow'), path.join(dir, 'empty.arrow'), path.join(dir, 'c.arrow')];
    await writeRows(shards[0]!, 0, [3]);
    await writeRows(shards[1]!, 3, [4, 3]);
    await writeRows(shards[2]!, 10, []);
    await writeRows(shards[3]!, 10, [7]);
    const merged = path.join(dir, 'merged.arrow');
    expect(await concatArrowFiles(merged, shards, { rowsPerBatch: 5 })).toBe(17);
    expect(readFileSync(merged).equals(readFileSync(whole))).toBe(true);
  });

  it('with rowsPerBatch, copies shards already cut at its batch boundaries, and re-batches any other cut, byte for byte either way', async () => {
    const whole = path.join(dir, 'whole-aligned.arrow');
    await writeRows(whole, 0, [5, 5, 5, 3]);
    const aligned = [path.join(dir, 'al1.arrow'), path.join(dir, 'al2.arrow'), path.join(dir, 'al3.arrow')];
    await writeRows(aligned[0]!, 0, [5, 5]);
    await writeRows(aligned[1]!, 10, []);
    await writeRows(aligned[2]!, 10, [5, 3]);
    const merged = path.join(dir, 'merged-aligned.arrow');
    expect(await concatArrowFiles(merged, aligned, { rowsPerBatch: 5 })).toBe(18);
    expect(readFileSync(merged).equals(readFileSync(whole))).toBe(true);
    // A shard ending in a short batch that is not the last: copying would keep the short batch.
    const wholeShortFirst = path.join(dir, 'whole-short-first.arrow');
    await writeRows(wholeShortFirst, 0, [5, 5, 3]);
    const shortFirst = [path.join(dir, 'sf1.arrow'), path.join(dir, 'sf2.arrow')];
    await writeRows(shortFirst[0]!, 0, [5, 3]);
    await writeRows(shortFirst[1]!, 8, [5]);
    const mergedShortFirst = path.join(dir, 'merged-short-first.arrow');
    expect(await concatArrowFiles(mergedShortFirst, shortFirst, { rowsPerBatch: 5 })).toBe(13);
    expect(readFileSync(mergedShortFirst).equals(readFileSync(wholeShortFirst))).toBe(true);
  });

  it('with rowsPerBatch, copies aligned batches without decoding them: a column type re-batching cannot read still merges', async () => {
    const float64Schema = new Schema([new Field('score', new Float64(), false)]);
    const write = async (file: string, batchSizes: number[]): Promise<void> => {
      const sink = new ArrowFileSink(file, float64Schema);
      for (const size of batchSizes) sink.write(makeRecordBatch(float64Schema, [makeData({ type: new Float64(), length: size, nullCount: 0, data: Float64Array.from({ length: size }, (_, i) => i / 7) })]));
      await sink.close();
    };
    const shards = [path.join(dir, 'f64-1.arrow'), path.join(dir, 'f64-2.arrow')];
    await write(shards[0]!, [4]);
    await write(shards[1]!, [2]);
    expect(await concatArrowFiles(path.join(dir, 'f64-merged.arrow'), shards, { rowsPerBatch: 4 })).toBe(6);
    await expect(concatArrowFiles(path.join(dir, 'f64-rebatched.arrow'), shards, { rowsPerBatch: 3 })).rejects.toThrow(/column 'score' has type Float64/);
  });

  it('without rowsPerBatch, keeps each shard batch as it is', async () => {
    const whole = path.join(dir, 'whole-kept.arrow');
    await writeRows(whole, 0, [4, 4, 2]);
    const shards = [path.join(dir, 'k1.arrow'), path.join(dir, 'k2.arrow')];
    await writeRows(shards[0]!, 0, [4]);
    await writeRows(shards[1]!, 4, [4, 2]);
    const merged = path.join(dir, 'merged-kept.arrow');
    expect(await concatArrowFiles(merged, shards)).toBe(10);
    expect(readFileSync(merged).equals(readFileSync(whole))).toBe(true);
  });

  it('without rowsPerBatch, fails on a truncated or foreign shard, naming it, and writes nothing', async () => {
    const good = path.join(dir, 'good.arrow');
    await writeRows(good, 0, [4]);
    const truncated = path.join(dir, 'truncated.arrow');
    await writeRows(truncated, 4, [4]);
    truncateSync(truncated, readFileSync(truncated).length - 3);
    const foreign = path.join(dir, 'foreign.arrow');
    writeFileSync(foreign, 'not an arrow file at all, just some text');
    const tiny = path.join(dir, 'tiny.arrow');
    writeFileSync(tiny, 'ARROW1');
    // The magic at both ends, and a footer length that points at bytes that are no footer.
    const badFooter = path.join(dir, 'bad-footer.arrow');
    writeFileSync(badFooter, Buffer.concat([Buffer.from('ARROW1\0\0'), Buffer.alloc(64, 0xff), Buffer.from(Int32Array.of(64).buffer), Buffer.from('ARROW1')]));
    for (const bad of [truncated, foreign, tiny, badFooter]) {
      const merged = path.join(dir, `merged-${path.basename(bad)}`);
      await expect(concatArrowFiles(merged, [good, bad])).rejects.toThrow(`${bad} is not an Arrow IPC file`);
      expect(existsSync(merged)).toBe(false);
      expect(existsSync(`${merged}.partial`)).toBe(false);
    }
  });
});
