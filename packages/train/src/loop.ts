import { rm } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs';
import { InterruptedError, UserError, type Logger } from '@flowers/core';
import { joinPhases, writeHistory, type EpochRecord } from '@flowers/core/contracts';
import { checkpointFingerprint, fingerprintChanges, readCheckpointState, restoreCheckpoint, writeCheckpoint, type CheckpointState } from './checkpoint.ts';
import type { ArrowBatchSource } from './data/arrow_batches.ts';
import { createTfjsEngine, type TrainingEngine } from './engines/index.ts';
import { categoricalCrossentropy, countCorrect } from './loss.ts';
import { learningRateAt } from './optim/schedules.ts';
import { accuracyOf, predictProbabilities, withMirror } from './predict.ts';
import type { TrainConfig } from './config.ts';

export interface TrainClassifierOptions {
  model: tf.LayersModel;
  train: ArrowBatchSource;
  validation: ArrowBatchSource;
  /** The validation photos' mirror images, row for row: each epoch also reports val_accuracy_tta. */
  validationMirror?: ArrowBatchSource;
  config: TrainConfig;
  /** Where the steps run (default: TensorFlow.js on the active backend); the caller disposes one it passes. */
  engine?: TrainingEngine;
  /** Where checkpoints go (created if missing). */
  checkpointDir: string;
  /** Continue from the checkpoint in `checkpointDir` (starts afresh if there is none). */
  resume: boolean;
  log: Logger;
  /** Also rewrite this history.json after every epoch. */
  historyFile?: string;
  /** An earlier phase's epochs (the head's, before fine-tuning), written first in historyFile. */
  historyBefore?: readonly EpochRecord[];
  /**
   * With early stopping: the val_loss of the weights the model starts with (the head's best, before
   * fine-tuning). They count as epoch 0, kept if no epoch beats them.
   */
  startValLoss?: number;
  /** On abort, the current epoch and its checkpoint finish, then training stops with an InterruptedError. */
  signal?: AbortSignal;
  onEpoch?: (record: EpochRecord) => void | Promise<void>;
  /** For the default engine: forward activations one micro-batch may hold (see micro_batches.ts). */
  activationBudgetBytes?: number;
}

export interface TrainClassifierResult {
  history: EpochRecord[];
  /** The epoch with the lowest val_loss (its weights are the model's when patience > 0); 0: the starting weights. */
  bestEpoch: number;
  stoppedEarly: boolean;
}

interface Evaluation {
  loss: number;
  accuracy: number;
  /** With the mirror images: the accuracy of test-time augmentation. */
  accuracyTta?: number;
}

async function evaluate(engine: TrainingEngine, source: ArrowBatchSource, labelSmoothing: number, mirror?: ArrowBatchSource): Promise<Evaluation> {
  let lossSum = 0;
  let correct = 0;
  let rows = 0;
  const plain = mirror ? { probabilities: new Float32Array(source.numRows * source.classes.length), rowIds: new Int32Array(source.numRows) } : undefined;
  for await (const { x, y, n, identity } of source.batches()) {
    const probabilities = await engine.predict(x, n);
    plain?.probabilities.set(probabilities, rows * source.classes.length);
    plain?.rowIds.set(identity!.rowIds, rows);
    const [loss, hits] = tf.tidy(() => {
      const p = tf.tensor2d(probabilities, [n, y.shape[1]]);
      return [categoricalCrossentropy(y, p, { labelSmoothing }).dataSync()[0]!, countCorrect(p, y).dataSync()[0]!];
    });
    tf.dispose([x, y]);
    lossSum += loss * n;
    correct += hits;
    rows += n;
  }
  const evaluation = { loss: rows > 0 ? lossSum / rows : NaN, accuracy: rows > 0 ? correct / rows : NaN };
  if (!mirror) return evaluation;
  return { ...evaluation, accuracyTta: accuracyOf(withMirror(plain!, await predictProbabilities(engine, mirror))) };
}

const format = (value: number): string => value.toFixed(4);

function epochLine(record: EpochRecord, epochs: number): string {
  return (
    `Epoch ${record.epoch}/${epochs} - ${record.seconds.toFixed(1)}s - loss: ${format(record.loss)} - accuracy: ${format(record.accuracy)}` +
    ` - val_loss: ${format(record.val_loss)} - val_accuracy: ${format(record.val_accuracy)}` +
    (record.val_accuracy_tta === undefined ? '' : ` - val_accuracy_tta: ${format(record.val_accuracy_tta)}`) +
    ` - lr: ${record.lr.toExponential(2)}`
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
  const engine =
    options.engine ??
    createTfjsEngine(model, config, { labelCounts: train.labelCounts, ...(options.activationBudgetBytes === undefined ? {} : { activationBudgetBytes: options.activationBudgetBytes }) });
  const { optimizer } = engine;
  const stepsPerEpoch = train.stepsPerEpoch;
  const schedule = {
    schedule: config.schedule,
    lr: config.lr,
    totalSteps: config.epochs * stepsPerEpoch,
    warmupSteps: config.warmupEpochs * stepsPerEpoch,
  };
  const dataShape = { rows: train.numRows, steps: train.stepsPerEpoch };
  const fingerprint = checkpointFingerprint(config, dataShape);

  let state: CheckpointState = { epoch: 0, fingerprint, history: [], iterations: 0, bestEpoch: 0, hasBestWeights: false };
  let bestWeights: tf.Tensor[] | undefined;
  const keepBest = config.patience > 0;
  // Without early stopping there is nothing to keep the starting weights for.
  const startLoss = keepBest ? (options.startValLoss ?? Infinity) : Infinity;
  try {
    const saved = options.resume ? await readCheckpointState(checkpointDir) : undefined;
    if (saved) {
      if (saved.state.fingerprint !== fingerprint) {
        const changes = fingerprintChanges(saved.state.fingerprint, config, dataShape).join('; ');
        throw new UserError(`the checkpoint in ${checkpointDir} was made with other training options or data (${changes}): rerun without --resume`);
      }
      bestWeights = await restoreCheckpoint(saved.epochDir, model, optimizer, saved.state);
      engine.load();
      state = saved.state;
      log.info(`resuming after epoch ${state.epoch}/${config.epochs} from ${checkpointDir}`);
    } else {
      if (options.resume) log.info(`no checkpoint in ${checkpointDir}: training from the start`);
      await rm(checkpointDir, { recursive: true, force: true });
      if (startLoss < Infinity) bestWeights = model.getWeights().map((w) => tf.keep(w.clone()));
    }

    const bestLoss = (): number => (state.bestEpoch > 0 ? state.history[state.bestEpoch - 1]!.val_loss : startLoss);
    let stoppedEarly = keepBest && state.epoch - state.bestEpoch >= config.patience && state.epoch > 0;
    for (let epoch = state.epoch + 1; epoch <= config.epochs && !stoppedEarly; epoch++) {
      const started = performance.now();
      let lossSum = 0;
      let correct = 0;
      let rows = 0;
      let step = 0;
      let lr = config.lr;
      for await (const batch of train.batches(epoch)) {
        lr = learningRateAt(engine.iterations, schedule);
        const { loss, hits: stepHits } = await engine.step(batch, lr, [config.seed, 'dropout', epoch, step]);
        const n = batch.n;
        tf.dispose([batch.x, batch.y]);
        if (!Number.isFinite(loss)) {
          const done = state.epoch > 0 ? `after ${state.epoch} good epoch(s)` : 'in the first epoch';
          throw new UserError(`loss became ${Number.isNaN(loss) ? 'NaN' : 'Infinity'} at epoch ${epoch}, step ${step + 1} (${done}): try a lower --lr`);
        }
        lossSum += loss * n;
        correct += stepHits;
        rows += n;
        step += 1;
      }
      engine.flush(); // the model and optimizer now hold this epoch's weights and state
      const val = await evaluate(engine, validation, config.labelSmoothing, options.validationMirror);
      const record: EpochRecord = {
        epoch,
        loss: lossSum / rows,
        accuracy: correct / rows,
        val_loss: val.loss,
        val_accuracy: val.accuracy,
        ...(val.accuracyTta === undefined ? {} : { val_accuracy_tta: val.accuracyTta }),
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
      state = { ...state, epoch, iterations: engine.iterations, hasBestWeights: bestWeights !== undefined };
      log.info(epochLine(record, config.epochs));
      stoppedEarly = keepBest && epoch - state.bestEpoch >= config.patience;
      await writeCheckpoint(checkpointDir, { model, optimizer, state, ...(bestWeights ? { bestWeights } : {}) });
      if (options.historyFile) await writeHistory(options.historyFile, options.historyBefore ? joinPhases(options.historyBefore, state.history) : state.history);
      await options.onEpoch?.(record);
      if (signal?.aborted && epoch < config.epochs && !stoppedEarly) {
        throw new InterruptedError(`training stopped after epoch ${epoch}; rerun with --resume to continue`);
      }
    }
    if (keepBest && bestWeights) {
      if (stoppedEarly) log.info(`early stopping: val_loss did not improve for ${config.patience} epochs`);
      log.info(
        state.bestEpoch > 0
          ? `restoring the weights of epoch ${state.bestEpoch} (val_loss ${format(bestLoss())})`
          : `restoring the starting weights: no epoch beat their val_loss ${format(bestLoss())}`,
      );
      model.setWeights(bestWeights);
      engine.load();
    }
    return { history: state.history, bestEpoch: state.bestEpoch, stoppedEarly };
  } finally {
    tf.dispose(bestWeights ?? []);
    if (options.engine === undefined) engine.dispose();
  }
}
