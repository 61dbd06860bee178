import { beforeAll, describe, expect, it } from 'vitest';
import { relativeError } from '../../core/test/numeric.ts';
import * as tf from '@tensorflow/tfjs';
import { memoryLogger } from '@flowers/core';
import { selectBackend, type SelectedBackend } from '@flowers/core/tf';
import { BASES, buildInceptionV3, buildMobileNetV2, splitAtLayer } from '../../features/src/models/index.ts';
import { buildTrainingGraphs, createTfjsEngine, createTrainingEngine, resolveTrainConfig, type Batch, type TrainingEngine } from '../src/index.ts';
import { buildFinetuneModel } from '../src/models/index.ts';
import { CLASSES, LABELS, maxAbs, NEGLIGIBLE, randomRows, seedWeights } from './onnx_reference.ts';

let onnx: SelectedBackend;
beforeAll(async () => {
  onnx = await selectBackend('onnx');
  // References come from TensorFlow.js on the pure-JS backend.
  await tf.setBackend('cpu');
});

/**
 * The tops `--input cut` trains by default, above each base's fineTuneFrom, with the finetune
 * preset's head, on seeded weights. InceptionV3 at Keras' smallest input: its mixed8 map is
 * 1x1x1280 (the layer tests cover larger maps); MobileNetV2 0.35 at 64 px: block_13's map is 2x2x56.
 */
const TOPS: Record<string, { base: () => tf.LayersModel; cut: string }> = {
  'InceptionV3 above mixed8 (mixed9, mixed10)': { base: () => buildInceptionV3({ inputSize: 75 }), cut: BASES.inception_v3.fineTuneFrom },
  'MobileNetV2 above block_13_project_BN (blocks 14 to 16, Conv_1)': { base: () => buildMobileNetV2({ alpha: 0.35, inputSize: 64 }), cut: BASES.mobilenet_v2.fineTuneFrom },
};

function topOf(name: string, freezeBatchNorm = false): tf.LayersModel {
  const { base, cut } = TOPS[name]!;
  const { top } = splitAtLayer(base(), cut);
  const model = buildFinetuneModel(top, 'dropout_dense64', { numClasses: CLASSES, dropout: 0, seed: 1 }, { freezeBatchNorm });
  seedWeights(model, cut);
  return model;
}

/** Two SGD steps of `engine` on `model` from its weights; the losses, hits and every weight's change (the weights are put back). */
async function twoSteps(model: tf.LayersModel, engine: TrainingEngine, lr: number, seed: number): Promise<{ losses: number[]; hits: number[]; changes: Float32Array[] }> {
  const start = model.weights.map((w) => Float32Array.from(w.read().dataSync()));
  const rowShape = model.inputs[0]!.shape.slice(1) as number[];
  const n = LABELS.length;
  const losses: number[] = [];
  const hits: number[] = [];
  for (const step of [0, 1]) {
    const batch: Batch = { x: tf.tensor(randomRows(rowShape, 'step', step), [n, ...rowShape]), y: tf.oneHot(tf.tensor1d(LABELS, 'int32'), CLASSES).toFloat() as tf.Tensor2D, n, labels: LABELS };
    const result = await engine.step(batch, lr, [seed, 0, step]);
    losses.push(result.loss);
    hits.push(result.hits);
    tf.dispose([batch.x, batch.y]);
  }
  engine.flush();
  engine.dispose();
  const changes = model.weights.map((w, i) => Float32Array.from(w.read().dataSync(), (v, k) => v - start[i]![k]!));
  model.weights.forEach((w, i) => w.write(tf.tensor(start[i]!, w.shape as number[])));
  return { losses, hits, changes };
}

/**
 * ||a - b|| / ||b||. In a model this size some ReLU input lies within rounding of zero, and the
 * two engines may take either side of it; that moves a few gradient entries by a lot (checked
 * by finite differences: the loss has a kink there), so the trained weights are compared as
 * whole tensors, not entry by entry as in the layer tests.
 */
function normRelativeError(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let norm = 0;
  b.forEach((v, i) => {
    diff += (a[i]! - v) ** 2;
    norm += v * v;
  });
  expect(norm).toBeGreaterThan(0);
  return Math.sqrt(diff / norm);
}

describe('fine-tuning on the onnx engine', () => {
  it.each(Object.keys(TOPS))('trains %s as the tfjs engine does: the same losses and weight changes over two steps, batch-norm moving statistics included', async (name) => {
    // SGD, whose steps are proportional to the gradients (RMSprop's and Adam's first steps are about lr * sign(g)).
    const config = resolveTrainConfig({ input: 'cut', head: 'dropout_dense64', dropout: 0, optimizer: 'sgd', lr: 0.01, batchSize: LABELS.length, labelSmoothing: 0.1, classWeights: true, seed: 1 });
    const labelCounts = Int32Array.from([3, 2, 2]);
    const model = topOf(name);
    const onnxEngine = await createTrainingEngine(model, config, { backend: onnx, threads: 2, labelCounts, log: memoryLogger() });
    expect(onnxEngine.name).toBe('onnx-cpu');
    const actual = await twoSteps(model, onnxEngine, config.lr, config.seed);
    const expected = await twoSteps(model, createTfjsEngine(model, config, { labelCounts }), config.lr, config.seed);
    actual.losses.forEach((loss, i) => expect(Math.abs(loss - expected.losses[i]!) / expected.losses[i]!).toBeLessThan(1e-5));
    expect(actual.hits).toEqual(expected.hits);
    const negligible = NEGLIGIBLE * Math.max(...expected.changes.map(maxAbs));
    const cancelled: string[] = [];
    model.weights.forEach((w, i) => {
      const [a, b] = [actual.changes[i]!, expected.changes[i]!];
      const moving = /moving_(mean|variance)$/.test(w.originalName);
      // A fixed gamma stays at its value on both engines; every other weight moves, by the same amounts.
      if (!w.trainable && !moving) {
        expect([a, b].every((change) => change.every((d) => d === 0)), w.originalName).toBe(true);
      } else if (maxAbs(b) < negligible) {
        // A gradient that cancels exactly (see NEGLIGIBLE) moves its weight by rounding noise on both.
        cancelled.push(w.originalName);
        expect(maxAbs(a), w.originalName).toBeLessThan(negligible);
      } else if (moving) {
        // Moving statistics come from the forward pass alone, which has no kinks.
        expect(relativeError(a, b), w.originalName).toBeLessThan(1e-4);
      } else {
        expect(normRelativeError(a, b), w.originalName).toBeLessThan(1e-3);
      }
    });
    // Only MobileNetV2's project_BN betas may cancel.
    expect(cancelled.filter((weight) => !weight.endsWith('_project_BN/beta'))).toEqual([]);
    model.dispose();
  });

  it.each(Object.keys(TOPS))('with --freeze-batch-norm, trains %s as the tfjs engine does, its batch norms in inference mode: their statistics, gamma and beta unchanged', async (name) => {
    const config = resolveTrainConfig({ input: 'cut', head: 'dropout_dense64', dropout: 0, optimizer: 'sgd', lr: 0.01, batchSize: LABELS.length, freezeBatchNorm: true, seed: 1 });
    const labelCounts = Int32Array.from([3, 2, 2]);
    const model = topOf(name, true);
    // In a training step, a frozen batch norm computes what it computes in inference.
    const rowShape = model.inputs[0]!.shape.slice(1) as number[];
    const x = tf.tensor(randomRows(rowShape, 'frozen', 0), [LABELS.length, ...rowShape]);
    expect(relativeError((model.apply(x, { training: true }) as tf.Tensor).dataSync() as Float32Array, (model.predict(x) as tf.Tensor).dataSync() as Float32Array)).toBeLessThan(1e-6);
    const actual = await twoSteps(model, await createTrainingEngine(model, config, { backend: onnx, threads: 2, labelCounts, log: memoryLogger() }), config.lr, config.seed);
    const expected = await twoSteps(model, createTfjsEngine(model, config, { labelCounts }), config.lr, config.seed);
    actual.losses.forEach((loss, i) => expect(Math.abs(loss - expected.losses[i]!) / expected.losses[i]!).toBeLessThan(1e-5));
    let moved = 0;
    model.weights.forEach((w, i) => {
      const [a, b] = [actual.changes[i]!, expected.changes[i]!];
      if (/batch_normalization|_BN\/|_bn\//i.test(w.originalName)) {
        expect([a, b].every((change) => change.every((d) => d === 0)), w.originalName).toBe(true);
      } else if (maxAbs(b) > NEGLIGIBLE * 10) {
        expect(normRelativeError(a, b), w.originalName).toBeLessThan(1e-3);
        moved += 1;
      }
    });
    // The convolutions above the cut and the head still train.
    expect(moved).toBeGreaterThan(4);
    model.dispose();
  });

  it('can put every layer of both bases in a training graph, so any --unfreeze cut trains on it', () => {
    for (const { base } of Object.values(TOPS)) {
      const whole = base();
      const model = buildFinetuneModel(whole, 'gap_linear', { numClasses: CLASSES, dropout: 0, seed: 1 });
      expect(buildTrainingGraphs(model).train.length).toBeGreaterThan(0);
      model.dispose();
    }
  });
});
