import { describe, it, expect, vi } from 'vitest';
import { copyFileSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { imageRowsIndexFile } from '@flowers/core/contracts';
import * as tf from '@tensorflow/tfjs';
import { ArrowBatchSource } from '../src/index.ts';
import { tempDir, writeRowsFile } from './fixtures.ts';

await tf.setBackend('cpu');

const ROWS = 50;
const dir = tempDir('batches');
const featuresFile = path.join(dir, 'train.arrow');
// Row i's first feature is i, so a batch's rows can be read back from x.
await writeRowsFile(featuresFile, {
  labels: Int32Array.from({ length: ROWS }, (_, i) => i % 3),
  views: Int32Array.from({ length: ROWS }, (_, i) => i % 4),
  values: Float32Array.from({ length: ROWS * 2 }, (_, k) => (k % 2 === 0 ? k / 2 : -1)),
  rowShape: [2],
  classes: ['a', 'b', 'c'],
  rowsPerBatch: 7,
});

async function epochRows(source: ArrowBatchSource, epoch: number): Promise<{ rows: number[]; sizes: number[] }> {
  const rows: number[] = [];
  const sizes: number[] = [];
  for await (const batch of source.batches(epoch)) {
    const x = batch.x.arraySync() as number[][];
    const y = batch.y.arraySync() as number[][];
    x.forEach((row, k) => {
      rows.push(row[0]!);
      // The one-hot target matches the row's label.
      expect(y[k]!.indexOf(1)).toBe(row[0]! % 3);
      expect(batch.labels[k]).toBe(row[0]! % 3);
    });
    sizes.push(batch.n);
    tf.dispose([batch.x, batch.y]);
  }
  return { rows, sizes };
}

describe('ArrowBatchSource (train)', () => {
  it('visits every row once per epoch in batches of batchSize', async () => {
    const source = await ArrowBatchSource.open(featuresFile, { role: 'train', batchSize: 8, seed: 1 });
    expect(source.numRows).toBe(ROWS);
    expect(source.stepsPerEpoch).toBe(7);
    expect(Array.from(source.labelCounts)).toEqual([17, 17, 16]);
    const { rows, sizes } = await epochRows(source, 1);
    expect([...rows].sort((a, b) => a - b)).toEqual(Array.from({ length: ROWS }, (_, i) => i));
    expect(sizes).toEqual([8, 8, 8, 8, 8, 8, 2]);
    await source.close();
  });

  it('shuffles the same way for the same seed and epoch, differently across epochs and seeds', async () => {
    const open = (seed: number) => ArrowBatchSource.open(featuresFile, { role: 'train', batchSize: 8, seed });
    const a = await open(1);
    const b = await open(1);
    const c = await open(2);
    const a1 = (await epochRows(a, 1)).rows;
    expect((await epochRows(b, 1)).rows).toEqual(a1);
    expect((await epochRows(a, 2)).rows).not.toEqual(a1);
    expect((await epochRows(c, 1)).rows).not.toEqual(a1);
    // Shuffled, not file order.
    expect(a1).not.toEqual([...a1].sort((x, y) => x - y));
    await Promise.all([a, b, c].map((s) => s.close()));
  });

  it('leaves no tensors behind once batches are disposed', async () => {
    const source = await ArrowBatchSource.open(featuresFile, { role: 'train', batchSize: 8, seed: 1 });
    await epochRows(source, 1);
    const before = tf.memory().numTensors;
    await epochRows(source, 2);
    expect(tf.memory().numTensors).toBe(before);
    await source.close();
  });
});

describe('ArrowBatchSource (eval)', () => {
  it('yields only view-0 rows, in file order, with their identity', async () => {
    const source = await ArrowBatchSource.open(featuresFile, { role: 'eval', batchSize: 4 });
    const expected = Array.from({ length: ROWS }, (_, i) => i).filter((i) => i % 4 === 0);
    expect(source.numRows).toBe(expected.length);
    const ids: string[] = [];
    const rowIds: number[] = [];
    const paths: string[] = [];
    const rows: number[] = [];
    for await (const batch of source.batches()) {
      rows.push(...(batch.x.arraySync() as number[][]).map((r) => r[0]!));
      ids.push(...batch.identity!.sha256);
      rowIds.push(...batch.identity!.rowIds);
      paths.push(...batch.identity!.paths);
      tf.dispose([batch.x, batch.y]);
    }
    expect(rows).toEqual(expected);
    expect(ids).toEqual(expected.map((i) => `img${String(i).padStart(5, '0')}`));
    expect(rowIds).toEqual(expected);
    expect(paths).toEqual(ids.map((id) => `${id}.jpg`));
    await source.close();
  });

  it('turns pixels into float32 [n, size, size, 3] times rescale', async () => {
    const file = path.join(tempDir('pixels'), 'test.arrow');
    const size = 4;
    const pixels = Uint8Array.from({ length: 3 * size * size * 3 }, (_, k) => (k * 7) % 256);
    await writeRowsFile(file, { labels: Int32Array.of(0, 1, 0), views: new Int32Array(3), values: pixels, rowShape: [size, size, 3], classes: ['a', 'b'], rowsPerBatch: 2 });
    const source = await ArrowBatchSource.open(file, { role: 'eval', batchSize: 3, rescale: 1 / 255 });
    expect(source.inputKind).toBe('pixels');
    for await (const batch of source.batches()) {
      expect(batch.x.shape).toEqual([3, size, size, 3]);
      expect(batch.x.dtype).toBe('float32');
      const values = batch.x.dataSync();
      pixels.forEach((p, k) => expect(values[k]).toBeCloseTo(p / 255, 6));
      tf.dispose([batch.x, batch.y]);
    }
    await source.close();
  });

  it('explains a file without class names', async () => {
    const file = path.join(tempDir('bad'), 'train.arrow');
    await writeRowsFile(file, { labels: Int32Array.of(0), views: Int32Array.of(0), values: Float32Array.of(1), rowShape: [1], classes: [], rowsPerBatch: 1 });
    await expect(ArrowBatchSource.open(file, { role: 'train', batchSize: 1 })).rejects.toThrow(`${file}: schema metadata 'classes' must be a list of at least 2 class names`);
  });

  it('explains a label outside the classes', async () => {
    const file = path.join(tempDir('bad-label'), 'train.arrow');
    await writeRowsFile(file, { labels: Int32Array.of(0, 5), views: Int32Array.of(0, 0), values: Float32Array.of(1, 2), rowShape: [1], classes: ['a', 'b'], rowsPerBatch: 2 });
    await expect(ArrowBatchSource.open(file, { role: 'train', batchSize: 1 })).rejects.toThrow(`${file}: label_index 5 in record batch 0 is outside the 2 classes`);
  });
});

describe('one augmented view of each photo per epoch', () => {
  const PHOTOS = 12;
  const VIEWS = 4; // view 0 plus 3 augmented views, as the augment stage lays them out
  const file = path.join(tempDir('epoch-views'), 'train.arrow');
  const photoOf = (row: number): number => Math.floor(row / VIEWS);
  // Each row's feature encodes its photo and view: photo * 10 + view.
  const written = writeRowsFile(file, {
    labels: Int32Array.from({ length: PHOTOS * VIEWS }, (_, i) => photoOf(i) % 3),
    views: Int32Array.from({ length: PHOTOS * VIEWS }, (_, i) => i % VIEWS),
    values: Float32Array.from({ length: PHOTOS * VIEWS }, (_, i) => photoOf(i) * 10 + (i % VIEWS)),
    rowShape: [1],
    classes: ['a', 'b', 'c'],
    rowsPerBatch: 10,
    sha256: Array.from({ length: PHOTOS * VIEWS }, (_, i) => `photo${photoOf(i)}`),
  });

  async function viewsByPhoto(source: ArrowBatchSource, epoch: number): Promise<Map<number, number>> {
    const seen = new Map<number, number>();
    for await (const batch of source.batches(epoch)) {
      for (const [value] of batch.x.arraySync() as number[][]) {
        const photo = Math.floor(value! / 10);
        expect(seen.has(photo), `photo ${photo} twice in epoch ${epoch}`).toBe(false);
        seen.set(photo, value! % 10);
      }
      tf.dispose([batch.x, batch.y]);
    }
    return seen;
  }

  it('takes every photo once per epoch, never the plain view, each augmented view once in K epochs, in a different order per photo', async () => {
    await written;
    const source = await ArrowBatchSource.open(file, { role: 'train', batchSize: 5, seed: 9, epochViews: 1 });
    expect(source.numRows).toBe(PHOTOS);
    expect(source.stepsPerEpoch).toBe(3);
    expect(Array.from(source.labelCounts)).toEqual([4, 4, 4]);
    const epochs = [];
    for (let epoch = 1; epoch <= 2 * (VIEWS - 1); epoch++) epochs.push(await viewsByPhoto(source, epoch));
    for (const views of epochs) {
      expect(views.size).toBe(PHOTOS);
      expect([...views.values()].every((view) => view >= 1 && view < VIEWS)).toBe(true);
    }
    for (let photo = 0; photo < PHOTOS; photo++) {
      const firstCycle = epochs.slice(0, VIEWS - 1).map((views) => views.get(photo));
      expect([...firstCycle].sort()).toEqual([1, 2, 3]);
      // The cycle repeats with period K.
      expect(epochs.slice(VIEWS - 1).map((views) => views.get(photo))).toEqual(firstCycle);
    }
    // Photos do not all take the same view in an epoch.
    expect(new Set(epochs[0]!.values()).size).toBeGreaterThan(1);
    // The same seed gives the same views; another seed other ones.
    const again = await ArrowBatchSource.open(file, { role: 'train', batchSize: 5, seed: 9, epochViews: 1 });
    const other = await ArrowBatchSource.open(file, { role: 'train', batchSize: 5, seed: 10, epochViews: 1 });
    expect(await viewsByPhoto(again, 1)).toEqual(epochs[0]);
    expect(await viewsByPhoto(other, 1)).not.toEqual(epochs[0]);
    await Promise.all([source.close(), again.close(), other.close()]);
  });

  it('refuses a file without augmented views, naming it', async () => {
    const plain = path.join(tempDir('plain'), 'train.arrow');
    await writeRowsFile(plain, { labels: Int32Array.from([0, 1]), views: Int32Array.from([0, 0]), values: Float32Array.from([1, 2]), rowShape: [1], classes: ['a', 'b'], rowsPerBatch: 2 });
    await expect(ArrowBatchSource.open(plain, { role: 'train', batchSize: 5, epochViews: 1 })).rejects.toThrow(`but ${plain} has none (view 0 only)`);
  });
});

describe('ArrowBatchSource.open', () => {
  it('reads the small index file, not the values of the data file', async () => {
    const file = path.join(tempDir('big'), 'train.arrow');
    const rows = 64;
    const size = 32;
    await writeRowsFile(file, {
      labels: Int32Array.from({ length: rows }, (_, i) => i % 2),
      views: Int32Array.from({ length: rows }, (_, i) => i % 3),
      values: new Uint8Array(rows * size * size * 3).fill(7),
      rowShape: [size, size, 3],
      classes: ['a', 'b'],
      rowsPerBatch: 8,
    });
    // Every read of the data file goes through a FileHandle: count the bytes opening reads.
    const handle = await open(file, 'r');
    const read = vi.spyOn(Object.getPrototypeOf(handle) as { read: (...args: unknown[]) => unknown }, 'read');
    await handle.close();
    const source = await ArrowBatchSource.open(file, { role: 'train', batchSize: 8, epochViews: 1, seed: 1 });
    const reads = await Promise.all(read.mock.results.map((r) => r.value as Promise<{ bytesRead: number }>));
    read.mockRestore();
    const total = reads.reduce((sum, r) => sum + r.bytesRead, 0);
    expect(source.numRows).toBeGreaterThan(0);
    expect(total).toBeGreaterThan(0);
    expect(total).toBeLessThan(statSync(file).size / 20);
    await source.close();
  });

  it('refuses an index that belongs to another file, naming both', async () => {
    const dir = tempDir('mismatch');
    const file = path.join(dir, 'train.arrow');
    const other = path.join(dir, 'other.arrow');
    const spec = { labels: new Int32Array(10), views: new Int32Array(10), values: new Float32Array(20), rowShape: [2], classes: ['a', 'b'] };
    await writeRowsFile(file, { ...spec, rowsPerBatch: 5 });
    await writeRowsFile(other, { ...spec, rowsPerBatch: 3 });
    copyFileSync(imageRowsIndexFile(other), imageRowsIndexFile(file));
    await expect(ArrowBatchSource.open(file, { role: 'eval', batchSize: 4 })).rejects.toThrow(
      `${imageRowsIndexFile(file)} indexes 4 record batches, but ${file} has 2: the two files do not belong together`,
    );
  });
});
