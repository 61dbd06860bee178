import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { relativeError } from '../../core/test/numeric.ts';
import * as tf from '@tensorflow/tfjs';
import { createRandom, memoryLogger } from '@flowers/core';
import { selectBackend, type SelectedBackend } from '@flowers/core/tf';
import { ArrowBatchSource, buildClassifier, buildTrainingGraphs, createTrainingEngine, resolveTrainConfig, trainClassifier, type TrainConfig } from '../src/index.ts';
import { balancedClassWeights, categoricalCrossentropy } from '../src/loss.ts';
import { tempDir, writeSeparableSplits } from './fixtures.ts';

let onnx: SelectedBackend;
beforeAll(async () => {
  onnx = await selectBackend('onnx');
  // References come from TensorFlow.js' own autodiff on the pure-JS backend.
  await tf.setBackend('cpu');
});

const CLASSES = 3;
const LABELS = Int32Array.from([0, 1, 2, 2, 1, 0, 0]);

/**
 * The training graph's loss and gradients for one batch, against tfjs autodiff of the same model
 * and loss (label smoothing and class weights included). Dropout masks of ones stand for the
 * inference-mode reference.
 */
async function compareGradients(config: TrainConfig, rowShape: number[]): Promise<void> {
  const model = buildClassifier(config, { inputShape: rowShape, numClasses: CLASSES });
  const random = createRandom('rows', config.head);
  const n = LABELS.length;
  const rows = Float32Array.from({ length: n * rowShape.reduce((a, b) => a * b, 1) }, () => random.uniform(0, 1));
  const classWeights = balancedClassWeights(Int32Array.from([3, 2, 2]));
  const graphs = buildTrainingGraphs(model);
  const { ort } = onnx.onnx!;
  const session = await ort.InferenceSession.create(graphs.train);
  const s = config.labelSmoothing;
  const targets = new Float32Array(n * CLASSES).fill(s / CLASSES);
  LABELS.forEach((label, r) => (targets[r * CLASSES + label] = 1 - s + s / CLASSES));
  const out = await session.run({
    rows: new ort.Tensor('float32', rows, [n, ...rowShape]),
    targets: new ort.Tensor('float32', targets, [n, CLASSES]),
    row_scale: new ort.Tensor('float32', Float32Array.from(LABELS, (label) => classWeights[label]! / n), [n]),
    ...Object.fromEntries(graphs.dropouts.map((d) => [`mask_${d.layer}`, new ort.Tensor('float32', new Float32Array(n * d.shape.reduce((a, b) => a * b, 1)).fill(1), [n, ...d.shape])])),
    ...Object.fromEntries(model.trainableWeights.map((w, i) => [`weight_${i}`, new ort.Tensor('float32', (w.read().dataSync() as Float32Array).slice(), w.shape as number[])])),
  });
  await session.release();

  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const { value, grads } = tf.variableGrads(() => {
    const x = tf.tensor(rows, [n, ...rowShape]);
    const y = tf.oneHot(tf.tensor1d(LABELS, 'int32'), CLASSES).toFloat() as tf.Tensor2D;
    return categoricalCrossentropy(y, model.apply(x, { training: false }) as tf.Tensor2D, { labelSmoothing: s, classWeights: tf.tensor1d(classWeights) });
  }, variables);
  expect(relativeError(out.loss!.data as Float32Array, value.dataSync())).toBeLessThan(1e-5);
  expect(model.trainableWeights.length).toBeGreaterThan(0);
  model.trainableWeights.forEach((w, i) => {
    const graph = out[`gradient_${i}`]!;
    expect(graph.dims, w.name).toEqual(w.shape);
    expect(relativeError(graph.data as Float32Array, grads[variables[i]!.name]!.dataSync()), w.name).toBeLessThan(1e-4);
  });
  tf.dispose([value, ...Object.values(grads)]);
  model.dispose();
}

const base = { epochs: 2, batchSize: 8, labelSmoothing: 0.1, classWeights: true, seed: 3 };

describe('the training graph', () => {
  it("gives the scratch CNN's loss and gradients as TensorFlow.js autodiff does (convolutions, ReLU, max pooling, flatten, dense)", async () => {
    await compareGradients(resolveTrainConfig({ ...base, input: 'pixels', head: 'scratch_cnn', dropout: 0.2 }), [47, 47, 3]);
  }, 60_000);

  it('does so for every dense head, on flat features and on spatial maps', async () => {
    for (const head of ['dense512', 'dropout_dense64', 'gap_linear', 'gap_dense']) {
      await compareGradients(resolveTrainConfig({ ...base, input: 'features', head, dropout: 0.5 }), [2, 3, 4]);
      await compareGradients(resolveTrainConfig({ ...base, input: 'features', head, dropout: 0 }), [10]);
    }
  });

  it('names the layer it cannot train, instead of training something else', async () => {
    const input = tf.input({ shape: [4] });
    const hidden = tf.layers.dense({ units: 4, activation: 'tanh', name: 'squash' }).apply(input) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 2, activation: 'softmax' }).apply(hidden) as tf.SymbolicTensor });
    const config = resolveTrainConfig({ ...base, input: 'features', head: 'gap_linear' });
    await expect(createTrainingEngine(model, config, { backend: onnx, labelCounts: Int32Array.from([1, 1]), log: memoryLogger() })).rejects.toThrow(
      "--backend onnx cannot train model model",
    );
    await expect(createTrainingEngine(model, config, { backend: onnx, labelCounts: Int32Array.from([1, 1]), log: memoryLogger() })).rejects.toThrow(
      "layer 'squash' (Dense) has activation 'tanh'",
    );
    model.dispose();
  });
});

describe('training on the onnx engine', () => {
  const openSources: ArrowBatchSource[] = [];
  afterEach(async () => {
    for (const source of openSources.splice(0)) await source.close();
  });
  const config = resolveTrainConfig({
    input: 'features', head: 'gap_dense', dropout: 0.3, epochs: 4, batchSize: 16, optimizer: 'adamw', lr: 3e-3,
    weightDecay: 0.01, schedule: 'cosine', warmupEpochs: 1, labelSmoothing: 0.1, classWeights: true, seed: 5,
  });

  async function train(options: { resume?: boolean; checkpointDir?: string; signal?: AbortSignal; onEpoch?: () => void } = {}) {
    const files = await writeSeparableSplits(tempDir('onnx-data'));
    const sources = {
      train: await ArrowBatchSource.open(files.train, { role: 'train', batchSize: config.batchSize, seed: config.seed }),
      validation: await ArrowBatchSource.open(files.validation, { role: 'eval', batchSize: config.batchSize }),
    };
    openSources.push(sources.train, sources.validation);
    const model = buildClassifier(config, { inputShape: [6], numClasses: 3 });
    const engine = await createTrainingEngine(model, config, { backend: onnx, threads: 2, labelCounts: sources.train.labelCounts, log: memoryLogger() });
    try {
      const result = await trainClassifier({ model, ...sources, config, engine, checkpointDir: options.checkpointDir ?? tempDir('onnx-ckpt'), resume: options.resume ?? false, log: memoryLogger(), ...(options.signal ? { signal: options.signal } : {}), ...(options.onEpoch ? { onEpoch: options.onEpoch } : {}) });
      return { result, weights: model.getWeights().map((w) => Float32Array.from(w.dataSync())), engineName: engine.name };
    } finally {
      engine.dispose();
      model.dispose();
    }
  }

  it('learns a separable problem, the same model twice from one seed, with the tensor count flat over epochs', async () => {
    const counts: number[] = [];
    const first = await train({ onEpoch: () => void counts.push(tf.memory().numTensors) });
    expect(first.engineName).toBe('onnx-cpu');
    expect(first.result.history.at(-1)!.val_accuracy).toBeGreaterThan(0.9);
    expect(first.result.history.at(-1)!.loss).toBeLessThan(first.result.history[0]!.loss);
    expect(new Set(counts).size).toBe(1);
    const second = await train();
    second.weights.forEach((w, i) => expect(Buffer.from(w.buffer).equals(Buffer.from(first.weights[i]!.buffer))).toBe(true));
  });

  it('resumed after an interruption, ends with bit-identical weights to an uninterrupted run', async () => {
    const full = await train();
    const checkpointDir = tempDir('onnx-resume');
    const controller = new AbortController();
    let epochs = 0;
    await expect(train({ checkpointDir, signal: controller.signal, onEpoch: () => void (++epochs === 2 && controller.abort()) })).rejects.toThrow('training stopped after epoch 2');
    const rest = await train({ checkpointDir, resume: true });
    expect(rest.result.history).toHaveLength(4);
    rest.weights.forEach((w, i) => expect(Buffer.from(w.buffer).equals(Buffer.from(full.weights[i]!.buffer))).toBe(true));
  });
});
