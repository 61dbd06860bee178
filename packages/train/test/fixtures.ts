import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRandom } from '@flowers/core';
import { FEATURES_CONTRACT, ImageRowsWriter, PIXELS_CONTRACT, imageRowsSchema, type SplitName } from '@flowers/core/contracts';

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
  /** Each row's row in split.arrow (default: its index); the views of one photo share it. */
  rowIds?: number[];
}

/** Writes a pixel (Uint8 values) or feature (Float32 values) file, and its index, through their contract. */
export async function writeRowsFile(file: string, spec: RowsSpec): Promise<void> {
  const rowSize = spec.rowShape.reduce((a, b) => a * b, 1);
  const pixels = spec.values instanceof Uint8Array;
  const metadata: Record<string, string> = { classes: JSON.stringify(spec.classes), data_dir: '/photos' };
  if (pixels) metadata.size = String(spec.rowShape[0]);
  else metadata.feature_shape = JSON.stringify(spec.rowShape);
  const writer = new ImageRowsWriter(file, imageRowsSchema(pixels ? PIXELS_CONTRACT : FEATURES_CONTRACT, rowSize, metadata));
  for (let start = 0; start < spec.labels.length; start += spec.rowsPerBatch) {
    const end = Math.min(spec.labels.length, start + spec.rowsPerBatch);
    const ids = spec.sha256?.slice(start, end) ?? Array.from({ length: end - start }, (_, i) => `img${String(start + i).padStart(5, '0')}`);
    const rows = ids.map((sha256, i) => ({
      rowId: spec.rowIds?.[start + i] ?? start + i,
      path: `${sha256}.jpg`,
      sha256,
      labelIndex: spec.labels[start + i]!,
      split: (spec.split ?? 'train') as SplitName,
      view: spec.views[start + i]!,
    }));
    writer.write(rows, spec.values.slice(start * rowSize, end * rowSize));
  }
  await writer.close();
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
