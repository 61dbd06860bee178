import { describe, it, expect } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { createRandom, memoryLogger, readArrowTable } from '@flowers/core';
import { readMetrics } from '@flowers/core/contracts';
import { selectBackend } from '@flowers/core/tf';
import { produceTrain, resolveTrainConfig } from '../src/index.ts';
import { tempDir, writeRowsFile, writeSeparableSplits } from './fixtures.ts';

const SIZE = 46;

/** Noisy images whose left (class 0) or right (class 1) half is bright. */
async function writeHalvesSplits(dir: string): Promise<{ train: string; validation: string; test: string }> {
  const files = { train: path.join(dir, 'train.arrow'), validation: path.join(dir, 'validation.arrow'), test: path.join(dir, 'test.arrow') };
  for (const [split, rows] of [['train', 64], ['validation', 20], ['test', 20]] as const) {
    const random = createRandom('halves', split);
    const labels = Int32Array.from({ length: rows }, (_, i) => i % 2);
    const values = new Uint8Array(rows * SIZE * SIZE * 3);
    for (let i = 0; i < rows; i++) {
      for (let p = 0; p < SIZE * SIZE * 3; p++) {
        const column = Math.floor(p / 3) % SIZE;
        const bright = (column < SIZE / 2) === (labels[i] === 0);
        values[i * SIZE * SIZE * 3 + p] = Math.floor(random.uniform(0, 100)) + (bright ? 120 : 0);
      }
    }
    await writeRowsFile(files[split], { labels, values, views: new Int32Array(rows), rowShape: [SIZE, SIZE, 3], classes: ['left', 'right'], rowsPerBatch: 16, split });
  }
  return files;
}

describe('produceTrain', () => {
  it('refuses early stopping when the validation file has no rows, naming it', async () => {
    await selectBackend('cpu');
    const dir = tempDir('stage-no-validation');
    const files = await writeSeparableSplits(dir, { rows: 30 });
    await writeRowsFile(files.validation, { labels: new Int32Array(0), values: new Float32Array(0), views: new Int32Array(0), rowShape: [6], classes: ['class0', 'class1', 'class2'], rowsPerBatch: 10, split: 'validation' });
    const config = resolveTrainConfig({ input: 'features', head: 'gap_linear', epochs: 4, batchSize: 16, patience: 2 });
    await expect(
      produceTrain({ outDir: tempDir('stage-out'), trainFile: files.train, validationFile: files.validation, testFile: files.test, config, resume: false, log: memoryLogger(), modelMeta: {} }),
    ).rejects.toThrow(`early stopping needs a validation split: ${files.validation} has no rows; pass --patience 0`);
  });

  it('trains a features head and writes model, pipeline-model.json, history and test predictions', async () => {
    await selectBackend('cpu');
    const files = await writeSeparableSplits(tempDir('stage-data'), { rows: 120 });
    const outDir = tempDir('stage-out');
    const config = resolveTrainConfig({ input: 'features', head: 'gap_linear', epochs: 6, batchSize: 16, optimizer: 'adam', lr: 0.02 });
    const result = await produceTrain({
      outDir, trainFile: files.train, validationFile: files.validation, testFile: files.test, config, resume: false,
      log: memoryLogger(), modelMeta: { base: 'test-base', weights: 'none' },
    });
    expect(result.testAccuracy).toBeGreaterThan(0.9);
    expect(result.rows).toEqual({ train: 120, validation: 40, test: 40 });
    expect(fs.readdirSync(outDir).sort()).toEqual(['history.json', 'metrics.json', 'model', 'pipeline-model.json', 'predictions.arrow']);
    const meta = JSON.parse(fs.readFileSync(path.join(outDir, 'pipeline-model.json'), 'utf8'));
    expect(meta).toEqual({ base: 'test-base', weights: 'none', classes: ['class0', 'class1', 'class2'], inputSize: null, input: 'features', rescale: 1, feature_shape: [6] });
    const history = JSON.parse(fs.readFileSync(path.join(outDir, 'history.json'), 'utf8')) as Array<Record<string, number>>;
    expect(history.map((r) => r.epoch)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Object.keys(history[0]!).sort()).toEqual(['accuracy', 'epoch', 'loss', 'lr', 'seconds', 'val_accuracy', 'val_loss']);
    const predictions = await readArrowTable(path.join(outDir, 'predictions.arrow'));
    expect(predictions.numRows).toBe(40);
    expect(predictions.schema.fields.map((f) => f.name)).toEqual(['sha256', 'label_index', 'row_id', 'path', 'probabilities']);
    const first = Array.from(predictions.getChild('probabilities')!.get(0) as Float32Array);
    expect(first).toHaveLength(3);
    expect(first.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    // Each prediction names its image as the features file does; metrics.json is computed from them.
    expect(Array.from(predictions.getChild('row_id')!.toArray() as Int32Array)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(predictions.getChild('path')!.get(3)).toBe('img00003.jpg');
    expect(predictions.schema.metadata.get('data_dir')).toBe('/photos');
    const metrics = await readMetrics(path.join(outDir, 'metrics.json'));
    expect(metrics.accuracy).toBe(result.testAccuracy);
    expect(metrics.n).toBe(40);
    // The saved model loads and predicts what the predictions file says.
    const { fileIOHandler } = await import('@flowers/core/tf');
    const loaded = await tf.loadLayersModel(fileIOHandler(path.join(outDir, 'model')));
    expect(loaded.outputs[0]!.shape).toEqual([null, 3]);
  });

  // The cpu backend learns the features problem above; its conv gradients are too slow for a test
  // (minutes), so the convnet runs on wasm, with the training kernels trainClassifier registers.
  it('the scratch CNN learns a separable image problem on wasm', async () => {
    await selectBackend('wasm');
    const files = await writeHalvesSplits(tempDir('halves'));
    const outDir = tempDir('halves-out');
    const config = resolveTrainConfig({ input: 'pixels', head: 'scratch_cnn', rescale: '1/255', epochs: 5, batchSize: 16, optimizer: 'rmsprop', lr: 1e-3 });
    const result = await produceTrain({
      outDir, trainFile: files.train, validationFile: files.validation, testFile: files.test, config, resume: false,
      log: memoryLogger(), modelMeta: {},
    });
    expect(result.testAccuracy).toBeGreaterThan(0.9);
    const meta = JSON.parse(fs.readFileSync(path.join(outDir, 'pipeline-model.json'), 'utf8'));
    expect(meta).toMatchObject({ inputSize: SIZE, input: 'pixels', feature_shape: null });
    expect(meta.rescale).toBeCloseTo(1 / 255, 12);
  });
});
