import * as tf from '@tensorflow/tfjs';
import { createRandom } from '@flowers/core';
import { sessionOptions, type OnnxRuntime } from '@flowers/core/onnx';
import { balancedClassWeights } from '../loss.ts';
import { buildTrainingGraphs, gradientOutput, maskInput, stateInput, stateOutput, STEP_INPUTS, STEP_OUTPUTS, weightInput, type DropoutMaskSpec } from '../onnx/step_graph.ts';
import { createOptimizer, SLOT_COUNTS } from '../optim/optimizers.ts';
import { createParallelUpdate, sharedCopy } from '../optim/parallel_update.ts';
import type { TrainConfig } from '../config.ts';
import { DECAYED_WEIGHT, type TrainingEngine } from './engine.ts';

/** A dropout mask for `rows` rows: 0 with probability `rate`, else 1 / (1 - rate), drawn from the step's seed. */
function dropoutMask({ layer, shape, rate }: DropoutMaskSpec, rows: number, seedParts: Array<string | number>): Float32Array {
  const random = createRandom(...seedParts, layer);
  const kept = 1 / (1 - rate);
  const size = rows * shape.reduce((a, b) => a * b, 1);
  const mask = new Float32Array(size);
  for (let i = 0; i < size; i++) mask[i] = random.next() < rate ? 0 : kept;
  return mask;
}

/**
 * Training as ONNX Runtime graphs (see onnx/step_graph.ts): one call per step computes the loss
 * and every gradient on all cores; the optimizer's fused update (optim/fused_updates.ts, large
 * arrays split over as many threads: optim/parallel_update.ts) then changes the weights in place,
 * and they go into the next call without a copy. The weights, optimizer slots (shared, for the
 * update's threads) and states (non-trainable weights: batch norm's moving statistics, which the
 * training graph outputs updated) live here as arrays between flushes.
 */
export async function createOnnxEngine(
  model: tf.LayersModel,
  config: TrainConfig,
  { runtime, threads, labelCounts }: { runtime: OnnxRuntime; threads: number; labelCounts: Int32Array },
): Promise<TrainingEngine> {
  const graphs = buildTrainingGraphs(model);
  const { ort } = runtime;
  // ONNX Runtime's pool threads spin for a while after each call by default; here the optimizer's
  // update threads run right after it, and on two cores the spinning took their time.
  const options = { ...sessionOptions(runtime.executionProvider, threads), extra: { session: { intra_op: { allow_spinning: '0' } } } };
  const [trainSession, inferSession] = await Promise.all([ort.InferenceSession.create(graphs.train, options), ort.InferenceSession.create(graphs.infer, options)]);
  const variables = model.trainableWeights.map((weight) => weight.read() as tf.Variable);
  const decays = model.trainableWeights.map((weight) => DECAYED_WEIGHT.test(weight.originalName));
  const shapes = variables.map((v) => v.shape);
  const stateVariables = model.nonTrainableWeights.map((weight) => weight.read() as tf.Variable);
  const rowShape = model.inputs[0]!.shape.slice(1) as number[];
  const optimizer = createOptimizer(config, variables.map((variable, i) => ({ variable, decay: decays[i]! })));
  const updater = createParallelUpdate(config.optimizer, config.weightDecay, threads);
  const slotCount = SLOT_COUNTS[config.optimizer];
  const classWeights = config.classWeights ? balancedClassWeights(labelCounts) : undefined;

  let weights: Float32Array[] = [];
  let states: Float32Array[] = [];
  let slots: Float32Array[][] = [];
  let iterations = 0;
  const load = (): void => {
    weights = variables.map((v) => (v.dataSync() as Float32Array).slice());
    states = stateVariables.map((v) => (v.dataSync() as Float32Array).slice());
    const saved = optimizer.slots();
    slots = variables.map((_, i) => saved.slice(i * slotCount, (i + 1) * slotCount).map((slot) => sharedCopy(slot.dataSync() as Float32Array)));
    iterations = optimizer.iterations;
  };
  load();
  const weightFeeds = (): Record<string, InstanceType<typeof ort.Tensor>> => ({
    ...Object.fromEntries(weights.map((w, i) => [weightInput(i), new ort.Tensor('float32', w, shapes[i]!)])),
    ...Object.fromEntries(states.map((s, i) => [stateInput(i), new ort.Tensor('float32', s, stateVariables[i]!.shape)])),
  });
  const rowsFeed = (x: tf.Tensor, n: number): InstanceType<typeof ort.Tensor> => new ort.Tensor('float32', x.dataSync() as Float32Array, [n, ...rowShape]);
  /** A session's failure as one line naming the model and the batch shape. */
  const run = async (session: typeof trainSession, feeds: Record<string, InstanceType<typeof ort.Tensor>>, what: string, n: number) => {
    try {
      return await session.run(feeds);
    } catch (error) {
      throw new Error(`ONNX Runtime ${what} of ${model.name} on a batch of [${[n, ...rowShape].join(', ')}] failed: ${(error as Error).message.split('\n')[0]}`);
    }
  };

  return {
    name: `onnx-${runtime.executionProvider}`,
    summary: `ONNX Runtime ${runtime.version} on ${runtime.executionProvider}, ${threads} thread(s), one graph call per step`,
    optimizer,
    get iterations() {
      return iterations;
    },
    async step(batch, lr, dropoutSeedParts) {
      const { n, labels } = batch;
      const classes = batch.y.shape[1];
      const smoothing = config.labelSmoothing;
      const targets = new Float32Array(n * classes).fill(smoothing / classes);
      const rowScale = new Float32Array(n);
      labels.forEach((label, row) => {
        targets[row * classes + label] = 1 - smoothing + smoothing / classes;
        rowScale[row] = (classWeights?.[label] ?? 1) / n;
      });
      const feeds = {
        [STEP_INPUTS.rows]: rowsFeed(batch.x, n),
        [STEP_INPUTS.targets]: new ort.Tensor('float32', targets, [n, classes]),
        [STEP_INPUTS.rowScale]: new ort.Tensor('float32', rowScale, [n]),
        ...Object.fromEntries(graphs.dropouts.map((spec) => [maskInput(spec.layer), new ort.Tensor('float32', dropoutMask(spec, n, dropoutSeedParts), [n, ...spec.shape])])),
        ...weightFeeds(),
      };
      const out = await run(trainSession, feeds, 'training step', n);
      const loss = (out[STEP_OUTPUTS.loss]!.data as Float32Array)[0]!;
      const hits = (out[STEP_OUTPUTS.hits]!.data as Float32Array)[0]!;
      // As tfjs' batch norm does, which updates its moving statistics in every training forward pass, whatever the loss.
      for (const i of graphs.updatedStates) states[i] = out[stateOutput(i)]!.data as Float32Array;
      if (!Number.isFinite(loss)) return { loss, hits };
      iterations += 1;
      for (const [i, w] of weights.entries()) await updater.update(w, out[gradientOutput(i)]!.data as Float32Array, slots[i]!, { lr, t: iterations, decay: decays[i]! });
      return { loss, hits };
    },
    async predict(x, n) {
      const out = await run(inferSession, { [STEP_INPUTS.rows]: rowsFeed(x, n), ...weightFeeds() }, 'inference', n);
      return out[STEP_OUTPUTS.probabilities]!.data as Float32Array;
    },
    flush() {
      tf.tidy(() => {
        variables.forEach((v, i) => v.assign(tf.tensor(weights[i]!, shapes[i]!)));
        stateVariables.forEach((v, i) => v.assign(tf.tensor(states[i]!, v.shape)));
      });
      const slotTensors = slots.flat().map((slot, k) => tf.tensor(slot, shapes[Math.floor(k / slotCount)]!));
      optimizer.restore(iterations, slotTensors);
      tf.dispose(slotTensors);
    },
    load,
    dispose() {
      void trainSession.release();
      void inferSession.release();
      void updater.close();
      optimizer.dispose();
    },
  };
}
