import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  ArrowFileSink,
  Field,
  Int32,
  Schema,
  Utf8,
  createRandom,
  fixedSizeListColumn,
  fixedSizeListField,
  int32Column,
  makeRecordBatch,
  utf8Column,
} from '@flowers/core';

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `train-${prefix}-`));
}

export interface RowsSpec {
  labels: Int32Array;
  views: Int32Array;
  /** Flat values, labels.length rows. */
  values: Uint8Array | Float32Array;
  /** [size, size, 3] for pixels, the feature shape otherwise. */
  rowShape: number[];
  classes: string[];
  rowsPerBatch: number;
  split?: string;
  /** Each row's image id (default: one per row); the views of one photo share it. */
  sha256?: string[];
}

/** Writes a pixels (Uint8 values) or features (Float32 values) file as the earlier stages do. */
export async function writeRowsFile(file: string, spec: RowsSpec): Promise<void> {
  const rowSize = spec.rowShape.reduce((a, b) => a * b, 1);
  const pixels = spec.values instanceof Uint8Array;
  const metadata = new Map([['classes', JSON.stringify(spec.classes)]]);
  if (pixels) metadata.set('size', String(spec.rowShape[0]));
  else metadata.set('feature_shape', JSON.stringify(spec.rowShape));
  const schema = new Schema(
    [
      new Field('sha256', new Utf8(), false),
      new Field('label_index', new Int32(), false),
      new Field('split', new Utf8(), false),
      new Field('view', new Int32(), false),
      fixedSizeListField(pixels ? 'pixels' : 'features', rowSize, pixels ? 'uint8' : 'float32'),
    ],
    metadata,
  );
  const sink = new ArrowFileSink(file, schema);
  for (let start = 0; start < spec.labels.length; start += spec.rowsPerBatch) {
    const end = Math.min(spec.labels.length, start + spec.rowsPerBatch);
    const ids = spec.sha256?.slice(start, end) ?? Array.from({ length: end - start }, (_, i) => `img${String(start + i).padStart(5, '0')}`);
    sink.write(
      makeRecordBatch(schema, [
        utf8Column(ids),
        int32Column(spec.labels.slice(start, end)),
        utf8Column(ids.map(() => spec.split ?? 'train')),
        int32Column(spec.views.slice(start, end)),
        fixedSizeListColumn(spec.values.slice(start * rowSize, end * rowSize), rowSize),
      ]),
    );
  }
  await sink.close();
}

/**
 * A linearly separable features problem: class c's rows sit around +3 on dimension c, with
 * unit-ish uniform noise elsewhere.
 */
export function separableFeatures(rows: number, dims: number, classes: number, ...seed: Array<string | number>): { values: Float32Array; labels: Int32Array } {
  const random = createRandom('separable', ...seed);
  const values = new Float32Array(rows * dims);
  const labels = new Int32Array(rows);
  for (let i = 0; i < rows; i++) {
    labels[i] = i % classes;
    for (let d = 0; d < dims; d++) values[i * dims + d] = random.uniform(-1, 1) + (d === labels[i] ? 3 : 0);
  }
  return { values, labels };
}

export async function writeSeparableSplits(
  dir: string,
  { rows = 96, dims = 6, classes = 3, rowsPerBatch = 10 }: { rows?: number; dims?: number; classes?: number; rowsPerBatch?: number } = {},
): Promise<{ train: string; validation: string; test: string }> {
  const names = Array.from({ length: classes }, (_, c) => `class${c}`);
  const files = { train: path.join(dir, 'train.arrow'), validation: path.join(dir, 'validation.arrow'), test: path.join(dir, 'test.arrow') };
  for (const split of ['train', 'validation', 'test'] as const) {
    const count = split === 'train' ? rows : Math.ceil(rows / 3);
    const { values, labels } = separableFeatures(count, dims, classes, split);
    await writeRowsFile(files[split], { labels, values, views: new Int32Array(count), rowShape: [dims], classes: names, rowsPerBatch, split });
  }
  return files;
}
