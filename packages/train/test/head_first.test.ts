import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { memoryLogger } from '@flowers/core';
import { readHistory } from '@flowers/core/contracts';
import { fileIOHandler, selectBackend } from '@flowers/core/tf';
import { produceTrain, resolveTrainConfig } from '../src/index.ts';
import { separableFeatures, tempDir, writeRowsFile, writeSeparableSplits } from './fixtures.ts';

const CLASSES = ['class0', 'class1', 'class2'];
const DIMS = 6;

/** A base top on 2x2 maps of DIMS channels: a 1x1 convolution and a batch norm, output [2, 2, DIMS]. */
function tinyTop(): tf.LayersModel {
  const input = tf.input({ shape: [2, 2, DIMS], name: 'cut_features' });
  const conv = tf.layers.conv2d({ filters: DIMS, kernelSize: 1, kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }), name: 'top_conv' }).apply(input) as tf.SymbolicTensor;
  const norm = tf.layers.batchNormalization({ name: 'top_bn' }).apply(conv) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: norm, name: 'tiny_top' });
}

/**
 * Cut activations: each feature row repeated over a 2x2 map (any values do: only the head's weights
 * are compared). `mislabelValidation` shifts the validation labels by one class.
 */
async function writeCutSplits(dir: string, rows: number, mislabelValidation = false): Promise<{ train: string; validation: string; test: string }> {
  const files = { train: path.join(dir, 'train.arrow'), validation: path.join(dir, 'validation.arrow'), test: path.join(dir, 'test.arrow') };
  for (const split of ['train', 'validation', 'test'] as const) {
    const count = split === 'train' ? rows : Math.ceil(rows / 3);
    const { values, labels } = separableFeatures(count, DIMS, CLASSES.length, split);
    const maps = new Float32Array(count * 4 * DIMS);
    for (let i = 0; i < count; i++) for (let cell = 0; cell < 4; cell++) maps.set(values.subarray(i * DIMS, (i + 1) * DIMS), (i * 4 + cell) * DIMS);
    const written = mislabelValidation && split === 'validation' ? labels.map((l) => (l + 1) % CLASSES.length) : labels;
    await writeRowsFile(files[split], { labels: written, values: maps, views: new Int32Array(count), rowShape: [2, 2, DIMS], classes: CLASSES, rowsPerBatch: 10, split });
  }
  return files;
}

async function headWeights(modelDir: string): Promise<Record<string, number[][]>> {
  const model = await tf.loadLayersModel(fileIOHandler(modelDir));
  const names = ['dense_128', 'predictions'];
  const weights = Object.fromEntries(names.map((name) => [name, model.getLayer(name).getWeights().map((w) => Array.from(w.dataSync()))]));
  model.dispose();
  return weights;
}

/** The head layers of the model saved in `actualDir` hold the weights of the one in `expectedDir`, to 5 decimals. */
async function expectSameHeadWeights(actualDir: string, expectedDir: string): Promise<void> {
  const expected = await headWeights(expectedDir);
  const actual = await headWeights(actualDir);
  for (const [layer, tensors] of Object.entries(expected)) {
    tensors.forEach((values, i) => values.forEach((value, j) => expect(actual[layer]![i]![j], `${layer}[${i}][${j}]`).toBeCloseTo(value, 5)));
  }
}

describe('fine-tuning with --head-epochs', () => {
  let features: { train: string; validation: string; test: string };
  let cut: { train: string; validation: string; test: string };
  beforeAll(async () => {
    await selectBackend('cpu');
    features = await writeSeparableSplits(tempDir('head-first-features'), { rows: 60, dims: DIMS });
    cut = await writeCutSplits(tempDir('head-first-cut'), 60);
  });

  it('starts the fine-tuning from the head trained alone on the features, on the same schedule, and records both phases in one history', async () => {
    const common = { head: 'gap_dense', batchSize: 16, optimizer: 'adam', schedule: 'cosine', warmupEpochs: 1, seed: 3 };
    // The head alone, as the features experiment trains it.
    const headOnly = tempDir('head-first-head-only');
    await produceTrain({
      outDir: headOnly, trainFile: features.train, validationFile: features.validation, testFile: features.test,
      config: resolveTrainConfig({ ...common, input: 'features', epochs: 3, lr: 0.01 }), resume: false, log: memoryLogger(), modelMeta: {},
    });
    // The same 3 epochs first, then two fine-tuning epochs at a learning rate too small to move anything.
    const finetuned = tempDir('head-first-finetuned');
    const result = await produceTrain({
      outDir: finetuned, trainFile: cut.train, validationFile: cut.validation, testFile: cut.test,
      config: resolveTrainConfig({ ...common, input: 'cut', headEpochs: 3, headLr: 0.01, epochs: 2, lr: 1e-12 }),
      baseTop: tinyTop(), headFiles: { train: features.train, validation: features.validation },
      resume: false, log: memoryLogger(), modelMeta: {},
    });

    await expectSameHeadWeights(path.join(finetuned, 'model'), path.join(headOnly, 'model'));

    const history = await readHistory(path.join(finetuned, 'history.json'));
    const headHistory = await readHistory(path.join(headOnly, 'history.json'));
    expect(history.map((r) => [r.epoch, r.phase])).toEqual([[1, 'head'], [2, 'head'], [3, 'head'], [4, 'finetune'], [5, 'finetune']]);
    expect(history.slice(0, 3).map((r) => r.lr)).toEqual(headHistory.map((r) => r.lr));
    expect(history.slice(0, 3).map((r) => r.val_loss)).toEqual(headHistory.map((r) => r.val_loss));
    expect(result.history).toEqual(history);
    expect(result.bestEpoch).toBeGreaterThanOrEqual(1);
    expect(fs.readdirSync(finetuned)).not.toContain('checkpoint-head');
  });

  it('keeps the trained head when no fine-tuning epoch beats its val_loss', async () => {
    const common = { head: 'gap_dense', batchSize: 16, optimizer: 'adam', patience: 2, seed: 3 };
    const headOnly = tempDir('head-kept-head-only');
    const alone = await produceTrain({
      outDir: headOnly, trainFile: features.train, validationFile: features.validation, testFile: features.test,
      config: resolveTrainConfig({ ...common, input: 'features', epochs: 4, lr: 0.01 }), resume: false, log: memoryLogger(), modelMeta: {},
    });
    // Against mislabelled validation photos every fine-tuning epoch's val_loss is far above the head's.
    const mislabelled = await writeCutSplits(tempDir('head-kept-cut'), 60, true);
    const outDir = tempDir('head-kept-finetuned');
    const log = memoryLogger();
    const result = await produceTrain({
      outDir, trainFile: mislabelled.train, validationFile: mislabelled.validation, testFile: mislabelled.test,
      config: resolveTrainConfig({ ...common, input: 'cut', headEpochs: 4, headLr: 0.01, epochs: 3, lr: 0.01 }),
      baseTop: tinyTop(), headFiles: { train: features.train, validation: features.validation },
      resume: false, log, modelMeta: {},
    });
    expect(result.bestEpoch).toBe(alone.bestEpoch);
    expect(log.lines).toEqual(expect.arrayContaining([expect.stringMatching(/^restoring the starting weights: no epoch beat their val_loss /)]));
    await expectSameHeadWeights(path.join(outDir, 'model'), path.join(headOnly, 'model'));
  });

  it('refuses a head whose features do not fit the top, before training it', async () => {
    const outDir = tempDir('head-first-mismatch');
    const log = memoryLogger();
    // dropout_dense64 flattens its input: 6 feature values do not make the top's 2x2x6 map.
    await expect(
      produceTrain({
        outDir, trainFile: cut.train, validationFile: cut.validation, testFile: cut.test,
        config: resolveTrainConfig({ input: 'cut', head: 'dropout_dense64', headEpochs: 2, epochs: 1 }),
        baseTop: tinyTop(), headFiles: { train: features.train, validation: features.validation },
        resume: false, log, modelMeta: {},
      }),
    ).rejects.toThrow(/--head-epochs: a head on the features in .*train\.arrow \(shape \[6\]\) does not fit the top of the base: its layer dense_64 has weights 6x64.*24x64.*--pool none/);
    expect(log.lines.some((line) => line.includes('Epoch 1/'))).toBe(false);
  });

  it('is only for fine-tuning, as --freeze-batch-norm is, with a warm-up shorter than the head phase', () => {
    expect(() => resolveTrainConfig({ input: 'features', head: 'gap_linear', headEpochs: 5 })).toThrow('--head-epochs trains the head before fine-tuning the base: it needs --input cut, got --input features');
    expect(() => resolveTrainConfig({ input: 'cut', head: 'gap_dense', headEpochs: 2, epochs: 5, warmupEpochs: 2 })).toThrow('--warmup-epochs must be less than --head-epochs (2), got 2');
    expect(() => resolveTrainConfig({ input: 'pixels', head: 'scratch_cnn', freezeBatchNorm: true })).toThrow("--freeze-batch-norm is for fine-tuning the base's batch norms: it needs --input cut, got --input pixels");
  });
});
