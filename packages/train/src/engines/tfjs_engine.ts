import * as tf from '@tensorflow/tfjs';
import type { Batch } from '../data/arrow_batches.ts';
import { registerTrainingKernels } from '../kernels/index.ts';
import { balancedClassWeights, categoricalCrossentropy, countCorrect } from '../loss.ts';
import { ACTIVATION_BUDGET_BYTES, activationBytesPerRow, applyInMicroBatches, microBatchRanges, type RowRange } from '../micro_batches.ts';
import { setDropoutSeeds } from '../models/index.ts';
import { createOptimizer } from '../optim/optimizers.ts';
import type { TrainConfig } from '../config.ts';
import { DECAYED_WEIGHT, type StepResult, type TrainingEngine } from './engine.ts';

/**
 * Loss and gradients of one batch, computed over micro-batches that fit in memory (see
 * micro_batches.ts) and summed with weights size / rows: the loss is a mean over rows, so this
 * equals the whole batch's gradient. Dropout masks come from (seed, epoch, step) and, when the
 * batch is split, the micro-batch's index. Batch norm in training mode would see each
 * micro-batch's statistics; the models that have it (fine-tuning) fit in one.
 */
function stepGradients(
  model: tf.LayersModel,
  variables: tf.Variable[],
  { x, y, n }: Batch,
  lossOf: (yTrue: tf.Tensor2D, probabilities: tf.Tensor2D) => tf.Scalar,
  ranges: RowRange[],
  dropoutSeedParts: Array<string | number>,
): StepResult & { grads: tf.NamedTensorMap } {
  const whole = ranges.length === 1;
  let loss = 0;
  let hits = 0;
  let sum: tf.NamedTensorMap | undefined;
  for (const [index, { start, size }] of ranges.entries()) {
    setDropoutSeeds(model, ...dropoutSeedParts, ...(whole ? [] : [index]));
    const xs = whole ? x : tf.slice(x, start, size);
    const ys = whole ? y : tf.slice(y, start, size);
    let chunkHits: tf.Scalar | undefined;
    const { value, grads } = tf.variableGrads(() => {
      const probabilities = model.apply(xs, { training: true }) as tf.Tensor2D;
      chunkHits = tf.keep(countCorrect(probabilities, ys));
      return lossOf(ys, probabilities);
    }, variables);
    const share = size / n;
    loss += value.dataSync()[0]! * share;
    hits += chunkHits!.dataSync()[0]!;
    tf.dispose([value, chunkHits!, ...(whole ? [] : [xs, ys])]);
    if (whole) return { loss, hits, grads };
    const previous = sum;
    sum = tf.tidy(() => Object.fromEntries(Object.entries(grads).map(([name, g]) => [name, previous ? tf.add(previous[name]!, tf.mul(g, share)) : tf.mul(g, share)])));
    tf.dispose([...Object.values(grads), ...Object.values(previous ?? {})]);
  }
  return { loss, hits, grads: sum! };
}

/** Training on the active TensorFlow.js backend, with its autodiff (and, on wasm, the kernels of kernels/). */
export function createTfjsEngine(
  model: tf.LayersModel,
  config: TrainConfig,
  { labelCounts, activationBudgetBytes = ACTIVATION_BUDGET_BYTES }: { labelCounts: Int32Array; activationBudgetBytes?: number },
): TrainingEngine {
  if (tf.getBackend() === 'wasm') registerTrainingKernels();
  const trainable = model.trainableWeights.map((weight) => ({ variable: weight.read() as tf.Variable, decay: DECAYED_WEIGHT.test(weight.originalName) }));
  const variables = trainable.map((t) => t.variable);
  const optimizer = createOptimizer(config, trainable);
  const classWeights = config.classWeights ? tf.tensor1d(balancedClassWeights(labelCounts)) : undefined;
  const bytesPerRow = activationBytesPerRow(model);
  const microBatches = (rows: number): RowRange[] => microBatchRanges(rows, bytesPerRow, activationBudgetBytes);
  const lossOf = (yTrue: tf.Tensor2D, probabilities: tf.Tensor2D): tf.Scalar =>
    categoricalCrossentropy(yTrue, probabilities, { labelSmoothing: config.labelSmoothing, ...(classWeights ? { classWeights } : {}) });
  const split = microBatches(config.batchSize).length;
  return {
    name: tf.getBackend(),
    summary: `backend ${tf.getBackend()}` + (split > 1 ? `; each batch of ${config.batchSize} runs as ${split} micro-batches to fit in memory` : ''),
    optimizer,
    get iterations() {
      return optimizer.iterations;
    },
    async step(batch, lr, dropoutSeedParts) {
      optimizer.learningRate = lr;
      const { loss, hits, grads } = stepGradients(model, variables, batch, lossOf, microBatches(batch.n), dropoutSeedParts);
      if (Number.isFinite(loss)) optimizer.applyGradients(variables.map((v) => grads[v.name]));
      tf.dispose(Object.values(grads));
      return { loss, hits };
    },
    async predict(x, n) {
      const output = applyInMicroBatches(model, x, microBatches(n));
      const probabilities = await output.data<'float32'>();
      output.dispose();
      return probabilities;
    },
    flush: () => undefined,
    load: () => undefined,
    dispose() {
      optimizer.dispose();
      tf.dispose(classWeights ?? []);
    },
  };
}
