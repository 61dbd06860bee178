import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { memoryLogger, readArrowTable } from '@flowers/core';
import { readHistory, readMetrics } from '@flowers/core/contracts';
import { fileIOHandler, selectBackend } from '@flowers/core/tf';
import { produceTrain, resolveTrainConfig } from '../src/index.ts';
import { separableFeatures, tempDir, writeRowsFile } from './fixtures.ts';

const CLASSES = ['class0', 'class1', 'class2'];
const DIMS = 6;

/**
 * Feature files as augment --tta and features make them: validation and test photos each
 * followed by a second row (view 1, the same row id) standing for its mirror image, here a noisier
 * copy so that the mean of the two differs from the plain figure.
 */
async function writeSplitsWithMirrors(dir: string): Promise<Record<'train' | 'validation' | 'test', string>> {
  const files = { train: path.join(dir, 'train.arrow'), validation: path.join(dir, 'validation.arrow'), test: path.join(dir, 'test.arrow') };
  for (const split of ['train', 'validation', 'test'] as const) {
    const count = split === 'train' ? 90 : 45;
    const { values, labels } = separableFeatures(count, DIMS, CLASSES.length, split);
    if (split === 'train') {
      await writeRowsFile(files.train, { labels, values, views: new Int32Array(count), rowShape: [DIMS], classes: CLASSES, rowsPerBatch: 10, split });
      continue;
    }
    const noise = separableFeatures(count, DIMS, CLASSES.length, split, 'mirror').values;
    const both = new Float32Array(2 * count * DIMS);
    for (let i = 0; i < count; i++) {
      both.set(values.subarray(i * DIMS, (i + 1) * DIMS), 2 * i * DIMS);
      for (let d = 0; d < DIMS; d++) both[(2 * i + 1) * DIMS + d] = values[i * DIMS + d]! + 1.5 * noise[i * DIMS + d]!;
    }
    await writeRowsFile(files[split], {
      labels: Int32Array.from({ length: 2 * count }, (_, r) => labels[Math.floor(r / 2)]!),
      values: both,
      views: Int32Array.from({ length: 2 * count }, (_, r) => r % 2),
      rowIds: Array.from({ length: 2 * count }, (_, r) => Math.floor(r / 2)),
      rowShape: [DIMS],
      classes: CLASSES,
      rowsPerBatch: 10,
      split,
    });
  }
  return files;
}

/** The accuracy of the saved model on the mean of each photo's plain and mirror probabilities, computed here from the file's rows. */
async function ttaAccuracy(model: tf.LayersModel, file: string): Promise<{ plain: number; tta: number }> {
  const table = await readArrowTable(file);
  const views = table.getChild('view')!.toArray() as Int32Array;
  const labels = table.getChild('label_index')!.toArray() as Int32Array;
  const rows = Array.from({ length: table.numRows }, (_, r) => Array.from(table.getChild('features')!.get(r) as Float32Array));
  const predict = (r: number[]) => tf.tidy(() => Array.from((model.predict(tf.tensor2d([r])) as tf.Tensor).dataSync()));
  let plainCorrect = 0;
  let ttaCorrect = 0;
  let photos = 0;
  for (let r = 0; r < table.numRows; r++) {
    if (views[r] !== 0) continue;
    const plain = predict(rows[r]!);
    const mirror = predict(rows[r + 1]!);
    const mean = plain.map((p, c) => (p + mirror[c]!) / 2);
    const argmax = (p: number[]) => p.indexOf(Math.max(...p));
    plainCorrect += Number(argmax(plain) === labels[r]);
    ttaCorrect += Number(argmax(mean) === labels[r]);
    photos += 1;
  }
  return { plain: plainCorrect / photos, tta: ttaCorrect / photos };
}

describe('training with mirror images in the validation and test files', () => {
  let files: Record<'train' | 'validation' | 'test', string>;
  beforeAll(async () => {
    await selectBackend('cpu');
    files = await writeSplitsWithMirrors(tempDir('tta-data'));
  });

  it('reports validation and test accuracy with test-time augmentation beside the plain figures', async () => {
    const outDir = tempDir('tta-out');
    const result = await produceTrain({
      outDir, trainFile: files.train, validationFile: files.validation, testFile: files.test,
      config: resolveTrainConfig({ input: 'features', head: 'gap_linear', epochs: 2, batchSize: 16, optimizer: 'adam', lr: 0.003 }),
      resume: false, log: memoryLogger(), modelMeta: {},
    });
    const model = await tf.loadLayersModel(fileIOHandler(path.join(outDir, 'model')));
    const onTest = await ttaAccuracy(model, files.test);
    const onValidation = await ttaAccuracy(model, files.validation);
    model.dispose();

    const metrics = await readMetrics(path.join(outDir, 'metrics.json'));
    // The plain figures are on the 45 plain rows alone, as without mirror images.
    expect(metrics.n).toBe(45);
    expect(metrics.accuracy).toBeCloseTo(onTest.plain, 10);
    expect(metrics.tta!.accuracy).toBeCloseTo(onTest.tta, 10);
    expect(result.testAccuracyTta).toBe(metrics.tta!.accuracy);
    expect(onTest.tta).not.toBe(onTest.plain);
    const history = await readHistory(path.join(outDir, 'history.json'));
    expect(history).toHaveLength(2);
    expect(history[1]!.val_accuracy).toBeCloseTo(onValidation.plain, 10);
    expect(history[1]!.val_accuracy_tta).toBeCloseTo(onValidation.tta, 10);
  });

  it('refuses a file whose mirror images are not one per photo, naming it', async () => {
    const dir = tempDir('tta-bad');
    const { values, labels } = separableFeatures(4, DIMS, CLASSES.length, 'bad');
    const broken = path.join(dir, 'validation.arrow');
    await writeRowsFile(broken, { labels, values, views: Int32Array.from([0, 1, 0, 0]), rowShape: [DIMS], classes: CLASSES, rowsPerBatch: 10, split: 'validation' });
    await expect(
      produceTrain({
        outDir: tempDir('tta-bad-out'), trainFile: files.train, validationFile: broken, testFile: files.test,
        config: resolveTrainConfig({ input: 'features', head: 'gap_linear', epochs: 1 }), resume: false, log: memoryLogger(), modelMeta: {},
      }),
    ).rejects.toThrow(`${broken} has 1 mirror images (view 1) for 3 photos: rebuild it with augment --tta`);
  });
});
