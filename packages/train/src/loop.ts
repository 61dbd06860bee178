import { rm } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs';
import { InterruptedError, UserError, writeFileAtomic, type Logger } from '@flowers/core';
import { checkpointFingerprint, fingerprintChanges, readCheckpointState, restoreCheckpoint, writeCheckpoint, type CheckpointState, type EpochRecord } from './checkpoint.ts';
import type { ArrowBatchSource } from './data/arrow_batches.ts';
import { registerTrainingKernels } from './kernels/index.ts';
import { balancedClassWeights, categoricalCrossentropy } from './loss.ts';
import { ACTIVATION_BUDGET_BYTES, activationBytesPerRow, applyInMicroBatches, microBatchRanges, type RowRange } from './micro_batches.ts';
import { setDropoutSeeds } from './models/index.ts';
import { createOptimizer, type TrainableVariable } from './optim/optimizers.ts';
import { learningRateAt } from './optim/schedules.ts';
import type { TrainConfig } from './presets.ts';

export interface TrainClassifierOptions {
  model: tf.LayersModel;
  train: ArrowBatchSource;
  validation: ArrowBatchSource;
  config: TrainConfig;
  /** Where checkpoints go (created if missing). */
  checkpointDir: string;
  /** Continue from the checkpoint in `checkpointDir` (starts afresh if there is none). */
  resume: boolean;
  log: Logger;
  /** Also rewrite this history.json after every epoch. */
  historyFile?: string;
  /** On abort, the current epoch and its checkpoint finish, then training stops with an InterruptedError. */
  signal?: AbortSignal;
  onEpoch?: (record: EpochRecord) => void | Promise<void>;
  /** Forward activations one micro-batch may hold (default ACTIVATION_BUDGET_BYTES, see micro_batches.ts). */
  activationBudgetBytes?: number;
}

export interface TrainClassifierResult {
  history: EpochRecord[];
  /** The epoch with the lowest val_loss (its weights are the model's when patience > 0). */
  bestEpoch: number;
  stoppedEarly: boolean;
}

interface Evaluation {
  loss: number;
  accuracy: number;
}

/** Number of rows whose highest probability is on the true class. */
function countCorrect(probabilities: tf.Tensor2D, yTrue: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => tf.sum(tf.cast(tf.equal(tf.argMax(probabilities, 1), tf.argMax(yTrue, 1)), 'float32')));
}

async function evaluate(model: tf.LayersModel, source: ArrowBatchSource, labelSmoothing: number, microBatches: (rows: number) => RowRange[]): Promise<Evaluation> {
  let lossSum = 0;
  let correct = 0;
  let rows = 0;
  for await (const { x, y, n } of source.batches()) {
    const [loss, hits] = tf.tidy(() => {
      const probabilities = applyInMicroBatches(model, x, microBatches(n)) as tf.Tensor2D;
      return [categoricalCrossentropy(y, probabilities, { labelSmoothing }).dataSync()[0]!, countCorrect(probabilities, y).dataSync()[0]!];
    });
    tf.dispose([x, y]);
    lossSum += loss * n;
    correct += hits;
    rows += n;
  }
  return { loss: rows > 0 ? lossSum / rows : NaN, accuracy: rows > 0 ? correct / rows : NaN };
}

interface StepGradients {
  /** Mean loss over the batch's rows. */
  loss: number;
  hits: number;
  grads: tf.NamedTensorMap;
}

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
  { x, y, n }: { x: tf.Tensor; y: tf.Tensor2D; n: number },
  lossOf: (yTrue: tf.Tensor2D, probabilities: tf.Tensor2D) => tf.Scalar,
  microBatches: (rows: number) => RowRange[],
  dropoutSeedParts: Array<string | number>,
): StepGradients {
  const ranges = microBatches(n);
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

const format = (value: number): string => value.toFixed(4);

function epochLine(record: EpochRecord, epochs: number): string {
  return (
    `Epoch ${record.epoch}/${epochs} - ${record.seconds.toFixed(1)}s - loss: ${format(record.loss)} - accuracy: ${format(record.accuracy)}` +
    ` - val_loss: ${format(record.val_loss)} - val_accuracy: ${format(record.val_accuracy)} - lr: ${record.lr.toExponential(2)}`
  );
}

/**
 * Trains `model` with a custom loop: per-step learning rate from the schedule, dropout masks and
 * shuffles drawn from (seed, epoch, step) so a resumed run ends with the same weights as an
 * uninterrupted one, a checkpoint after every epoch, early stopping on val_loss restoring the best
 * weights, and a clear stop on a NaN/Infinity loss.
 */
export async function trainClassifier(options: TrainClassifierOptions): Promise<TrainClassifierResult> {
  const { model, train, validation, config, checkpointDir, log, signal } = options;
  if (tf.getBackend() === 'wasm') registerTrainingKernels();
  const trainable: TrainableVariable[] = model.trainableWeights.map((weight) => ({
    variable: weight.read() as tf.Variable,
    decay: /(^|\/)(depthwise_)?kernel$/.test(weight.originalName),
  }));
  const variables = trainable.map((t) => t.variable);
  const optimizer = createOptimizer(config, trainable);
  const classWeights = config.classWeights ? tf.tensor1d(balancedClassWeights(train.labelCounts)) : undefined;
  const stepsPerEpoch = train.stepsPerEpoch;
  const schedule = {
    schedule: config.schedule,
    lr: config.lr,
    totalSteps: config.epochs * stepsPerEpoch,
    warmupSteps: config.warmupEpochs * stepsPerEpoch,
  };
  const dataShape = { rows: train.numRows, steps: train.stepsPerEpoch };
  const fingerprint = checkpointFingerprint(config, dataShape);
  const bytesPerRow = activationBytesPerRow(model);
  const budgetBytes = options.activationBudgetBytes ?? ACTIVATION_BUDGET_BYTES;
  const microBatches = (rows: number): RowRange[] => microBatchRanges(rows, bytesPerRow, budgetBytes);
  const lossOf = (yTrue: tf.Tensor2D, probabilities: tf.Tensor2D): tf.Scalar =>
    categoricalCrossentropy(yTrue, probabilities, { labelSmoothing: config.labelSmoothing, ...(classWeights ? { classWeights } : {}) });

  let state: CheckpointState = { epoch: 0, fingerprint, history: [], iterations: 0, bestEpoch: 0, hasBestWeights: false };
  let bestWeights: tf.Tensor[] | undefined;
  const keepBest = config.patience > 0;
  try {
    const saved = options.resume ? await readCheckpointState(checkpointDir) : undefined;
    if (saved) {
      if (saved.state.fingerprint !== fingerprint) {
        const changes = fingerprintChanges(saved.state.fingerprint, config, dataShape).join('; ');
        throw new UserError(`the checkpoint in ${checkpointDir} was made with other training options or data (${changes}): rerun without --resume`);
      }
      bestWeights = await restoreCheckpoint(saved.epochDir, model, optimizer, saved.state);
      state = saved.state;
      log.info(`resuming after epoch ${state.epoch}/${config.epochs} from ${checkpointDir}`);
    } else {
      if (options.resume) log.info(`no checkpoint in ${checkpointDir}: training from the start`);
      await rm(checkpointDir, { recursive: true, force: true });
    }

    const bestLoss = (): number => (state.bestEpoch > 0 ? state.history[state.bestEpoch - 1]!.val_loss : Infinity);
    let stoppedEarly = keepBest && state.epoch - state.bestEpoch >= config.patience && state.epoch > 0;
    for (let epoch = state.epoch + 1; epoch <= config.epochs && !stoppedEarly; epoch++) {
      const started = performance.now();
      let lossSum = 0;
      let correct = 0;
      let rows = 0;
      let step = 0;
      let lr = config.lr;
      for await (const batch of train.batches(epoch)) {
        lr = learningRateAt(optimizer.iterations, schedule);
        optimizer.learningRate = lr;
        const { loss, hits: stepHits, grads } = stepGradients(model, variables, batch, lossOf, microBatches, [config.seed, 'dropout', epoch, step]);
        const n = batch.n;
        tf.dispose([batch.x, batch.y]);
        if (!Number.isFinite(loss)) {
          tf.dispose(Object.values(grads));
          const kept = state.epoch > 0 ? `the last good checkpoint (epoch ${state.epoch}) is kept` : 'no checkpoint was written yet';
          throw new UserError(`loss became ${Number.isNaN(loss) ? 'NaN' : 'Infinity'} at epoch ${epoch}, step ${step + 1}; ${kept}: try a lower --lr`);
        }
        optimizer.applyGradients(variables.map((v) => grads[v.name]));
        tf.dispose(Object.values(grads));
        lossSum += loss * n;
        correct += stepHits;
        rows += n;
        step += 1;
      }
      const val = await evaluate(model, validation, config.labelSmoothing, microBatches);
      const record: EpochRecord = {
        epoch,
        loss: lossSum / rows,
        accuracy: correct / rows,
        val_loss: val.loss,
        val_accuracy: val.accuracy,
        lr,
        seconds: (performance.now() - started) / 1000,
      };
      state.history.push(record);
      if (record.val_loss < bestLoss()) {
        state.bestEpoch = epoch;
        if (keepBest) {
          tf.dispose(bestWeights ?? []);
          bestWeights = model.getWeights().map((w) => tf.keep(w.clone()));
        }
      }
      state = { ...state, epoch, iterations: optimizer.iterations, hasBestWeights: bestWeights !== undefined };
      log.info(epochLine(record, config.epochs));
      stoppedEarly = keepBest && epoch - state.bestEpoch >= config.patience;
      await writeCheckpoint(checkpointDir, { model, optimizer, state, ...(bestWeights ? { bestWeights } : {}) });
      if (options.historyFile) await writeFileAtomic(options.historyFile, JSON.stringify(state.history, null, 2));
      await options.onEpoch?.(record);
      if (signal?.aborted && epoch < config.epochs && !stoppedEarly) {
        throw new InterruptedError(`training stopped after epoch ${epoch}; rerun with --resume to continue`);
      }
    }
    if (keepBest && bestWeights) {
      if (stoppedEarly) log.info(`early stopping: val_loss did not improve for ${config.patience} epochs`);
      log.info(`restoring the weights of epoch ${state.bestEpoch} (val_loss ${format(bestLoss())})`);
      model.setWeights(bestWeights);
    }
    return { history: state.history, bestEpoch: state.bestEpoch, stoppedEarly };
  } finally {
    tf.dispose(bestWeights ?? []);
    tf.dispose(classWeights ?? []);
    optimizer.dispose();
  }
}
