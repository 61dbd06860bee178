import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { fileIOHandler, selectBackend } from '@flowers/core/tf';
import { buildFinetuneModel } from '../src/models/index.ts';

/** A base top like InceptionV3's: convolutions followed by batch norms without scale (gamma). */
function scalelessTop(): tf.LayersModel {
  const input = tf.input({ shape: [4, 4, 3] });
  const conv = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', useBias: false, name: 'conv2d_90' }).apply(input) as tf.SymbolicTensor;
  const bn = tf.layers.batchNormalization({ scale: false, epsilon: 1e-3, name: 'batch_normalization_90' }).apply(conv) as tf.SymbolicTensor;
  const relu = tf.layers.activation({ activation: 'relu', name: 'activation_90' }).apply(bn) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: relu });
}

describe('fine-tuning a base top whose batch norms have no scale', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
  });

  it('trains in training mode, keeps gamma at one, and saves a model that loads back', async () => {
    const model = buildFinetuneModel(scalelessTop(), 'dropout_dense64', { numClasses: 2, dropout: 0, seed: 1 });
    const x = tf.randomUniform([6, 4, 4, 3], 0, 1, 'float32', 3);
    const y = tf.oneHot(tf.tensor1d([0, 1, 0, 1, 0, 1], 'int32'), 2).toFloat();
    const optimizer = tf.train.sgd(0.1);
    const trainable = model.trainableWeights.map((w) => w.originalName);
    expect(trainable.some((name) => name.endsWith('gamma'))).toBe(false);
    const loss = optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor), true)!;
    expect(Number.isFinite(loss.dataSync()[0]!)).toBe(true);
    const gamma = model.weights.find((w) => w.originalName === 'batch_normalization_90/gamma')!;
    expect(Array.from(gamma.read().dataSync())).toEqual([1, 1, 1, 1]);

    const dir = mkdtempSync(path.join(os.tmpdir(), 'finetune-save-'));
    await model.save(fileIOHandler(dir));
    const loaded = await tf.loadLayersModel(fileIOHandler(dir));
    const expected = (model.predict(x) as tf.Tensor).dataSync();
    const actual = (loaded.predict(x) as tf.Tensor).dataSync();
    expect(Array.from(actual).map((v) => v.toFixed(5))).toEqual(Array.from(expected).map((v) => v.toFixed(5)));
  });

  it('loaded from disk, as the train stage loads cut/top/, computes what it computed before it was made trainable', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'finetune-loaded-top-'));
    const built = scalelessTop();
    // Weights far from their initial values, so that a lost gamma or beta shows.
    built.setWeights(built.getWeights().map((w, i) => tf.randomNormal(w.shape, i === 3 ? 2 : 0, 0.5, 'float32', 10 + i).abs()));
    await built.save(fileIOHandler(dir));
    const top = await tf.loadLayersModel(fileIOHandler(dir));
    const x = tf.randomUniform([5, 4, 4, 3], 0, 1, 'float32', 4);
    const before = Array.from((top.predict(x) as tf.Tensor).dataSync());
    expect(before.some((v) => v !== 0)).toBe(true);
    buildFinetuneModel(top, 'gap_linear', { numClasses: 2, dropout: 0, seed: 1 });
    const after = Array.from((top.predict(x) as tf.Tensor).dataSync());
    after.forEach((v, i) => expect(v, `output ${i}`).toBeCloseTo(before[i]!, 5));
  });
});
