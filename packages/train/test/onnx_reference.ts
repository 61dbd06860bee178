import { expect } from 'vitest';
import { relativeError } from '../../core/test/numeric.ts';
import * as tf from '@tensorflow/tfjs';
import { createRandom } from '@flowers/core';
import type { OnnxRuntime } from '@flowers/core/onnx';
import { buildTrainingGraphs } from '../src/index.ts';
import { balancedClassWeights, categoricalCrossentropy } from '../src/loss.ts';

export const CLASSES = 3;
export const LABELS = Int32Array.from([0, 1, 2, 2, 1, 0, 0]);
const LABEL_SMOOTHING = 0.1;

const count = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Rows of `rowShape` for LABELS, uniform in [0, 1) from `seed`. */
export function randomRows(rowShape: number[], ...seed: Array<string | number>): Float32Array {
  const random = createRandom('rows', ...seed);
  return Float32Array.from({ length: LABELS.length * count(rowShape) }, () => random.uniform(0, 1));
}

/**
 * Sets every weight of `model` from `seed`, so a test does not rest on tfjs' initializers (batch
 * norm's start at mean 0, variance 1, beta 0): kernels uniform with unit-variance outputs
 * (LeCun), biases and betas small, so ReLUs stay alive; gammas (fixed ones too: those are the
 * model's business, not the graph's) and moving variances in [0.5, 1.5), moving means in [-0.5, 0.5).
 */
export function seedWeights(model: tf.LayersModel, ...seed: Array<string | number>): void {
  for (const weight of model.weights) {
    const random = createRandom('weights', weight.originalName, ...seed);
    const shape = weight.shape as number[];
    const name = weight.originalName.split('/').at(-1)!;
    const limit = Math.sqrt(3 / count(shape.slice(0, -1)));
    const [low, high] = name.endsWith('kernel') ? [-limit, limit] : name === 'gamma' || name === 'moving_variance' ? [0.5, 1.5] : name === 'moving_mean' ? [-0.5, 0.5] : [-0.1, 0.1];
    weight.write(tf.tensor(Float32Array.from({ length: count(shape) }, () => random.uniform(low, high)), shape));
  }
}

export function maxAbs(values: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < values.length; i++) max = Math.max(max, Math.abs(values[i]!));
  return max;
}

/**
 * Below this fraction of the largest gradient, a reference gradient is zero up to rounding: a
 * batch norm's beta when its output reaches another training-mode batch norm through linear
 * layers only (MobileNetV2's project_BN, via the residual Add and the next 1x1 expansion), whose
 * normalisation cancels any shift per channel. There the graph's gradient must be as small.
 */
export const NEGLIGIBLE = 1e-6;

/**
 * The training graph's loss, gradients and state updates for one batch of `rows` against
 * TensorFlow.js autodiff of the same model and loss (label smoothing and class weights
 * included), and its inference graph against model.predict. `training` runs the reference in
 * training mode (batch norm on batch statistics, updating its moving ones, which the graph's
 * state outputs must match); otherwise in inference mode, with dropout masks of ones.
 */
export async function compareWithAutodiff(runtime: OnnxRuntime, model: tf.LayersModel, rows: Float32Array, { training }: { training: boolean }): Promise<void> {
  const rowShape = model.inputs[0]!.shape.slice(1) as number[];
  const n = LABELS.length;
  const classWeights = balancedClassWeights(Int32Array.from([3, 2, 2]));
  const graphs = buildTrainingGraphs(model);
  if (training) expect(graphs.dropouts).toEqual([]);
  const { ort } = runtime;
  const stateFeeds = (): Record<string, InstanceType<typeof ort.Tensor>> =>
    Object.fromEntries(model.nonTrainableWeights.map((w, i) => [`state_${i}`, new ort.Tensor('float32', (w.read().dataSync() as Float32Array).slice(), w.shape as number[])]));
  const weightFeeds = {
    ...Object.fromEntries(model.trainableWeights.map((w, i) => [`weight_${i}`, new ort.Tensor('float32', (w.read().dataSync() as Float32Array).slice(), w.shape as number[])])),
    ...stateFeeds(),
  };
  const session = await ort.InferenceSession.create(graphs.train);
  const s = LABEL_SMOOTHING;
  const targets = new Float32Array(n * CLASSES).fill(s / CLASSES);
  LABELS.forEach((label, r) => (targets[r * CLASSES + label] = 1 - s + s / CLASSES));
  const out = await session.run({
    rows: new ort.Tensor('float32', rows, [n, ...rowShape]),
    targets: new ort.Tensor('float32', targets, [n, CLASSES]),
    row_scale: new ort.Tensor('float32', Float32Array.from(LABELS, (label) => classWeights[label]! / n), [n]),
    ...Object.fromEntries(graphs.dropouts.map((d) => [`mask_${d.layer}`, new ort.Tensor('float32', new Float32Array(n * count(d.shape)).fill(1), [n, ...d.shape])])),
    ...weightFeeds,
  });
  await session.release();

  const x = tf.tensor(rows, [n, ...rowShape]);
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const { value, grads } = tf.variableGrads(() => {
    const y = tf.oneHot(tf.tensor1d(LABELS, 'int32'), CLASSES).toFloat() as tf.Tensor2D;
    return categoricalCrossentropy(y, model.apply(x, { training }) as tf.Tensor2D, { labelSmoothing: s, classWeights: tf.tensor1d(classWeights) });
  }, variables);
  expect(relativeError(out.loss!.data as Float32Array, value.dataSync())).toBeLessThan(1e-5);
  expect(model.trainableWeights.length).toBeGreaterThan(0);
  const references = variables.map((v) => grads[v.name]!.dataSync() as Float32Array);
  const negligible = NEGLIGIBLE * Math.max(...references.map(maxAbs));
  model.trainableWeights.forEach((w, i) => {
    const graph = out[`gradient_${i}`]!;
    expect(graph.dims, w.name).toEqual(w.shape);
    if (maxAbs(references[i]!) < negligible) expect(maxAbs(graph.data as Float32Array), w.name).toBeLessThan(negligible);
    else expect(relativeError(graph.data as Float32Array, references[i]!), w.name).toBeLessThan(1e-4);
  });
  // The reference's forward pass has moved its moving statistics: the graph must give the same.
  const moving = model.nonTrainableWeights.flatMap((w, i) => (/moving_(mean|variance)$/.test(w.originalName) ? [i] : []));
  expect([...graphs.updatedStates].sort((a, b) => a - b)).toEqual(training ? moving : []);
  for (const i of graphs.updatedStates) {
    const w = model.nonTrainableWeights[i]!;
    expect(relativeError(out[`state_update_${i}`]!.data as Float32Array, w.read().dataSync()), w.name).toBeLessThan(1e-5);
  }
  tf.dispose([value, ...Object.values(grads)]);

  const infer = await ort.InferenceSession.create(graphs.infer);
  const predicted = await infer.run({ rows: new ort.Tensor('float32', rows, [n, ...rowShape]), ...weightFeeds, ...stateFeeds() });
  await infer.release();
  const expected = model.predict(x) as tf.Tensor;
  expect(relativeError(predicted.probabilities!.data as Float32Array, expected.dataSync())).toBeLessThan(1e-5);
  tf.dispose([x, expected]);
}
