import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ArrowFileSink, Field, Int32, Schema, Utf8, fixedSizeListColumn, fixedSizeListField, int32Column, makeRecordBatch, utf8Column } from '../src/index.ts';
import {
  FEATURES_CONTRACT,
  ImageRowsWriter,
  PIXELS_CONTRACT,
  imageRowsSchema,
  metricsJson,
  openImageRowsFile,
  openPixelFile,
  readImageRowsIndex,
  readMetrics,
  readPredictions,
  readSplitFile,
  writeMetrics,
  writePredictions,
  writeSplit,
  type SplitFile,
} from '../src/contracts/index.ts';

const tempDir = (): string => mkdtempSync(path.join(os.tmpdir(), 'contracts-'));

const SPLIT: SplitFile = {
  dataDir: '/photos',
  classes: ['a', 'b'],
  seed: 3,
  fractions: [0.5, 0.25, 0.25],
  rows: [
    { path: 'a/1.jpg', sha256: 'aa', label: 'a', labelIndex: 0, split: 'train', width: 4, height: 3, channels: 3 },
    { path: 'b/1.jpg', sha256: 'bb', label: 'b', labelIndex: 1, split: 'test', width: 5, height: 6, channels: 1 },
  ],
};

/** An Arrow file with the given fields, metadata and one row of values. */
async function writeArrow(file: string, fields: Field[], metadata: Record<string, string>, columns: Parameters<typeof makeRecordBatch>[1]): Promise<void> {
  const schema = new Schema(fields, new Map(Object.entries(metadata)));
  const sink = new ArrowFileSink(file, schema);
  sink.write(makeRecordBatch(schema, columns));
  await sink.close();
}

describe('the split contract', () => {
  it('reads back what it wrote', async () => {
    const dir = tempDir();
    await writeSplit(dir, SPLIT);
    expect(await readSplitFile(path.join(dir, 'split.arrow'))).toEqual(SPLIT);
  });

  it('refuses a split file of another schema version in one line naming the file and both versions', async () => {
    const file = path.join(tempDir(), 'split.arrow');
    await writeArrow(file, [new Field('path', new Utf8(), false)], { classes: '["a","b"]', data_dir: '/photos', schema_version: '7' }, [utf8Column(['a/1.jpg'])]);
    await expect(readSplitFile(file)).rejects.toThrow(`${file}: split schema version 7, but this code reads version 1: rebuild it with this code`);
  });
});

describe('the pixel and feature contracts', () => {
  const rows = [
    { rowId: 4, path: 'a/1.jpg', sha256: 'aa', labelIndex: 0, split: 'train' as const, view: 0 },
    { rowId: 4, path: 'a/1.jpg', sha256: 'aa', labelIndex: 0, split: 'train' as const, view: 1 },
    { rowId: 9, path: 'b/1.jpg', sha256: 'bb', labelIndex: 1, split: 'train' as const, view: 0 },
  ];

  it('write an index of the small columns with the data file, batch for batch', async () => {
    const file = path.join(tempDir(), 'train.arrow');
    const writer = new ImageRowsWriter(file, imageRowsSchema(FEATURES_CONTRACT, 2, { classes: '["a","b"]', feature_shape: '[2]' }));
    writer.write(rows.slice(0, 2), new Float32Array([1, 2, 3, 4]));
    writer.write(rows.slice(2), new Float32Array([5, 6]));
    await writer.close();
    const opened = await openImageRowsFile(file, [PIXELS_CONTRACT, FEATURES_CONTRACT]);
    expect(opened.contract).toBe(FEATURES_CONTRACT);
    const index = await readImageRowsIndex(opened);
    await opened.arrow.close();
    expect(index.map((b) => Array.from(b.rowIds))).toEqual([[4, 4], [9]]);
    expect(index.map((b) => Array.from(b.views))).toEqual([[0, 1], [0]]);
    expect(index[1]!.sha256).toEqual(['bb']);
  });

  it('refuse a pixel file from before row ids (version 1) in one line naming the file and both versions', async () => {
    const file = path.join(tempDir(), 'train.arrow');
    // The version-1 layout: no row_id, path or version key.
    await writeArrow(
      file,
      [new Field('sha256', new Utf8(), false), new Field('label_index', new Int32(), false), new Field('split', new Utf8(), false), new Field('view', new Int32(), false), fixedSizeListField('pixels', 3, 'uint8')],
      { size: '1', classes: '["a","b"]' },
      [utf8Column(['aa']), int32Column(Int32Array.of(0)), utf8Column(['train']), int32Column(Int32Array.of(0)), fixedSizeListColumn(Uint8Array.of(1, 2, 3), 3)],
    );
    await expect(openPixelFile(file)).rejects.toThrow(`${file}: pixel schema version 1, but this code reads version 2: rebuild it with this code`);
  });
});

describe('the predictions and metrics contracts', () => {
  it('read back what they wrote, and refuse other schema versions naming the file and both versions', async () => {
    const dir = tempDir();
    const predictions = {
      classes: ['a', 'b'],
      dataDir: '/photos',
      sha256: ['aa', 'bb'],
      rowIds: Int32Array.of(3, 8),
      paths: ['a/1.jpg', 'b/1.jpg'],
      labels: Int32Array.of(0, 1),
      probabilities: Float32Array.of(0.75, 0.25, 0.5, 0.5),
    };
    const file = path.join(dir, 'predictions.arrow');
    await writePredictions(file, predictions);
    expect(await readPredictions(file)).toEqual(predictions);
    const old = path.join(dir, 'old-predictions.arrow');
    await writeArrow(old, [new Field('sha256', new Utf8(), false)], { classes: '["a","b"]' }, [utf8Column(['aa'])]);
    await expect(readPredictions(old)).rejects.toThrow(`${old}: predictions schema version 1, but this code reads version 2`);

    const metrics = metricsJson([0, 1], [[0.75, 0.25], [0.5, 0.5]], ['a', 'b']);
    await writeMetrics(path.join(dir, 'metrics.json'), metrics);
    expect(await readMetrics(path.join(dir, 'metrics.json'))).toEqual(metrics);
    const future = path.join(dir, 'future-metrics.json');
    writeFileSync(future, JSON.stringify({ ...metrics, schema_version: 3 }));
    await expect(readMetrics(future)).rejects.toThrow(`${future}: metrics schema version 3, but this code reads version 2`);
  });
});
