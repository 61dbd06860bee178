import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { memoryLogger } from '@flowers/core';
import { selectBackend, type SelectedBackend } from '@flowers/core/tf';
import { ArrowBatchSource, buildClassifier, createTrainingEngine, resolveTrainConfig, trainClassifier, type TrainConfig } from '../src/index.ts';
import { tempDir, writeSeparableSplits } from './fixtures.ts';
import { CLASSES, compareWithAutodiff, randomRows } from './onnx_reference.ts';

let onnx: SelectedBackend;
beforeAll(async () => {
  onnx = await selectBackend('onnx');
  // References come from TensorFlow.js' own autodiff on the pure-JS backend.
  await tf.setBackend('cpu');
});

/** The training graph of `config`'s model against tfjs autodiff, in inference mode (see compareWithAutodiff). */
async function compareGradients(config: TrainConfig, rowShape: number[]): Promise<void> {
  const model = buildClassifier(config, { inputShape: rowShape, numClasses: CLASSES });
  await compareWithAutodiff(onnx.onnx!, model, randomRows(rowShape, config.head), { training: false });
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
