import { toBool, toChoice, toFraction, toInt, toPositive, UserError } from '@flowers/core';
import type { EpochViews } from './data/arrow_batches.ts';

export const INPUT_KINDS = ['pixels', 'features', 'cut'] as const;
export type InputKind = (typeof INPUT_KINDS)[number];
export const HEAD_KINDS = ['scratch_cnn', 'dense512', 'dropout_dense64', 'gap_linear', 'gap_dense'] as const;
export type HeadKind = (typeof HEAD_KINDS)[number];
export const OPTIMIZER_NAMES = ['rmsprop', 'adam', 'adamw', 'sgd'] as const;
export type OptimizerName = (typeof OPTIMIZER_NAMES)[number];
export const SCHEDULE_NAMES = ['constant', 'cosine', 'onecycle'] as const;
export type ScheduleName = (typeof SCHEDULE_NAMES)[number];

/** Everything the train stage needs to know about how to train, validated and typed. */
export interface TrainConfig {
  input: InputKind;
  head: HeadKind;
  epochs: number;
  /**
   * Fine-tuning (input 'cut'): epochs that first train the head alone on the base's cached
   * features, at headLr, so that the top is unfrozen under a trained head rather than a random
   * one (Keras' recipe: train the head, then fine-tune); 0 starts from a random head.
   */
  headEpochs: number;
  headLr: number;
  /**
   * Fine-tuning: the base's batch norms run in inference mode, on their moving statistics, with
   * gamma and beta frozen (as Keras does for a non-trainable BatchNormalization), instead of
   * normalising each batch by its own statistics.
   */
  freezeBatchNorm: boolean;
  batchSize: number;
  optimizer: OptimizerName;
  lr: number;
  /** Decoupled weight decay on kernels; used by adamw only. */
  weightDecay: number;
  schedule: ScheduleName;
  warmupEpochs: number;
  labelSmoothing: number;
  dropout: number;
  /** Epochs without a better val_loss before stopping (restoring the best weights); 0 = never stop early. */
  patience: number;
  classWeights: boolean;
  /** Training rows per epoch: one augmented view of each photo (1), or every view ('all'); see ArrowBatchSource. */
  epochViews: EpochViews;
  /** Multiplies the input values (1/255 turns pixels into [0, 1]). */
  rescale: number;
  seed: number;
}

export const TRAIN_DEFAULTS: Readonly<TrainConfig> = {
  input: 'features',
  head: 'gap_linear',
  epochs: 30,
  headEpochs: 0,
  headLr: 1e-3,
  freezeBatchNorm: false,
  batchSize: 32,
  optimizer: 'rmsprop',
  lr: 1e-3,
  weightDecay: 0,
  schedule: 'constant',
  warmupEpochs: 0,
  labelSmoothing: 0,
  dropout: 0,
  patience: 0,
  classWeights: false,
  epochViews: 'all',
  rescale: 1,
  seed: 0,
};

function epochViewsFrom(value: unknown): EpochViews {
  if (String(value) === '1') return 1;
  if (value === 'all') return 'all';
  throw new UserError(`--epoch-views must be 1 (one augmented view of each photo per epoch) or all, got '${String(value)}'`);
}

/**
 * Validates and types the training options among layered option values (flags > config >
 * preset > defaults, merged by the caller); missing ones take TRAIN_DEFAULTS.
 */
export function resolveTrainConfig(values: Record<string, unknown>): TrainConfig {
  const get = (name: keyof TrainConfig): unknown => values[name] ?? TRAIN_DEFAULTS[name];
  const config: TrainConfig = {
    input: toChoice(get('input'), 'input', INPUT_KINDS),
    head: toChoice(get('head'), 'head', HEAD_KINDS),
    epochs: toInt(get('epochs'), 'epochs', 1),
    headEpochs: toInt(get('headEpochs'), 'headEpochs', 0),
    headLr: toPositive(get('headLr'), 'headLr'),
    freezeBatchNorm: toBool(get('freezeBatchNorm'), 'freezeBatchNorm'),
    batchSize: toInt(get('batchSize'), 'batchSize', 1),
    optimizer: toChoice(get('optimizer'), 'optimizer', OPTIMIZER_NAMES),
    lr: toPositive(get('lr'), 'lr'),
    weightDecay: toFraction(get('weightDecay'), 'weightDecay', 0, 1),
    schedule: toChoice(get('schedule'), 'schedule', SCHEDULE_NAMES),
    warmupEpochs: toInt(get('warmupEpochs'), 'warmupEpochs', 0),
    labelSmoothing: toFraction(get('labelSmoothing'), 'labelSmoothing', 0, 1),
    dropout: toFraction(get('dropout'), 'dropout', 0, 1),
    patience: toInt(get('patience'), 'patience', 0),
    classWeights: toBool(get('classWeights'), 'classWeights'),
    epochViews: epochViewsFrom(get('epochViews')),
    rescale: toPositive(get('rescale'), 'rescale'),
    seed: toInt(get('seed'), 'seed', 0),
  };
  if (config.warmupEpochs >= config.epochs && config.warmupEpochs > 0) {
    throw new UserError(`--warmup-epochs must be less than --epochs (${config.epochs}), got ${config.warmupEpochs}`);
  }
  if (config.freezeBatchNorm && config.input !== 'cut') {
    throw new UserError(`--freeze-batch-norm is for fine-tuning the base's batch norms: it needs --input cut, got --input ${config.input}`);
  }
  if (config.headEpochs > 0 && config.input !== 'cut') {
    throw new UserError(`--head-epochs trains the head before fine-tuning the base: it needs --input cut, got --input ${config.input}`);
  }
  // The head phase runs the same schedule, warm-up included, over its own epochs.
  if (config.headEpochs > 0 && config.warmupEpochs >= config.headEpochs) {
    throw new UserError(`--warmup-epochs must be less than --head-epochs (${config.headEpochs}), got ${config.warmupEpochs}`);
  }
  const wantsPixels = config.head === 'scratch_cnn';
  if (wantsPixels !== (config.input === 'pixels')) {
    throw new UserError(
      wantsPixels
        ? `--head scratch_cnn trains on images: it needs --input pixels, got --input ${config.input}`
        : `--head ${config.head} sits on a base model: it needs --input features or cut, got --input pixels`,
    );
  }
  return config;
}
