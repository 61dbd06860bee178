import { UserError } from '@flowers/core';

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
  /** Multiplies the input values (1/255 turns pixels into [0, 1]). */
  rescale: number;
  seed: number;
}

/** One experiment: option values for every stage (augment, features, train), flat. */
export type ExperimentPreset = Readonly<Record<string, string | number | boolean>>;

export const TRAIN_DEFAULTS: Readonly<TrainConfig> = {
  input: 'features',
  head: 'gap_linear',
  epochs: 30,
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
  rescale: 1,
  seed: 42,
};

// The Keras "CNN basics" experiment: plain images, Keras defaults where it names none.
const KERAS_REFERENCE = {
  size: 150,
  views: 0,
  augment: 'none',
  input: 'pixels',
  base: 'inception_v3',
  alpha: 1,
  pool: 'none',
  weights: 'imagenet',
  unfreeze: '',
  head: 'scratch_cnn',
  epochs: 20,
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
  rescale: 1,
} as const satisfies ExperimentPreset;

const SCRATCH = { ...KERAS_REFERENCE, input: 'pixels', head: 'scratch_cnn', rescale: 1 / 255, batchSize: 128 } as const;
const FEATURES_AUG = {
  ...KERAS_REFERENCE,
  views: 10,
  augment: 'experiment',
  input: 'features',
  head: 'dropout_dense64',
  dropout: 0.2,
  lr: 1e-4,
  epochs: 30,
} as const;

export const EXPERIMENTS: Readonly<Record<string, ExperimentPreset>> = {
  scratch: SCRATCH,
  'scratch-aug': { ...SCRATCH, views: 10, augment: 'experiment', dropout: 0.2, lr: 1e-5, epochs: 100 },
  features: { ...KERAS_REFERENCE, input: 'features', head: 'dense512', dropout: 0.5, lr: 1.5e-6, epochs: 120 },
  'features-aug': FEATURES_AUG,
  // The top of InceptionV3 above mixed8 (mixed9, mixed10) trains with the head, from cached mixed8 activations.
  finetune: { ...FEATURES_AUG, input: 'cut', unfreeze: 'mixed8', lr: 1e-5 },
  // Avg-pooled MobileNetV2 0.35 features of a few augmented views and a small regularised head:
  // 1280 numbers per row, so an epoch over a few thousand rows takes well under a second.
  best: {
    ...KERAS_REFERENCE,
    size: 224,
    views: 3,
    augment: 'experiment',
    input: 'features',
    base: 'mobilenet_v2',
    alpha: 0.35,
    pool: 'avg',
    head: 'gap_dense',
    epochs: 40,
    batchSize: 128,
    optimizer: 'adamw',
    lr: 2e-3,
    weightDecay: 1e-4,
    schedule: 'cosine',
    warmupEpochs: 2,
    labelSmoothing: 0.1,
    dropout: 0.5,
    patience: 10,
    classWeights: true,
  },
};
export const EXPERIMENT_NAMES: readonly string[] = Object.keys(EXPERIMENTS);

const flag = (name: string): string => `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** A number from a flag, config value or preset; "1/255" is accepted for ratios. */
function parseNumber(value: unknown, name: string): number {
  const fraction = typeof value === 'string' ? /^\s*([\d.eE+-]+)\s*\/\s*([\d.eE+-]+)\s*$/.exec(value) : null;
  const n = fraction ? Number(fraction[1]) / Number(fraction[2]) : typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  if (!Number.isFinite(n)) throw new UserError(`${flag(name)} must be a number, got '${String(value)}'`);
  return n;
}

function positive(value: unknown, name: string): number {
  const n = parseNumber(value, name);
  if (!(n > 0)) throw new UserError(`${flag(name)} must be a positive number, got ${n}`);
  return n;
}

function wholeNumber(value: unknown, name: string, min: number): number {
  const n = parseNumber(value, name);
  if (!Number.isInteger(n) || n < min) throw new UserError(`${flag(name)} must be a whole number >= ${min}, got ${n}`);
  return n;
}

function inRange(value: unknown, name: string, min: number, maxExclusive: number): number {
  const n = parseNumber(value, name);
  if (n < min || n >= maxExclusive) throw new UserError(`${flag(name)} must be in [${min}, ${maxExclusive}), got ${n}`);
  return n;
}

function choice<T extends string>(value: unknown, name: string, choices: readonly T[]): T {
  if (typeof value === 'string' && (choices as readonly string[]).includes(value)) return value as T;
  throw new UserError(`${flag(name)} must be one of ${choices.join(', ')}, got '${String(value)}'`);
}

function bool(value: unknown, name: string): boolean {
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === '1' || value === 1) return true;
  if (value === 'false' || value === '0' || value === 0) return false;
  throw new UserError(`${flag(name)} must be true or false, got '${String(value)}'`);
}

/**
 * Validates and types the training options among layered option values (flags > config >
 * preset > defaults, merged by the caller); missing ones take TRAIN_DEFAULTS.
 */
export function resolveTrainConfig(values: Record<string, unknown>): TrainConfig {
  const get = (name: keyof TrainConfig): unknown => values[name] ?? TRAIN_DEFAULTS[name];
  const config: TrainConfig = {
    input: choice(get('input'), 'input', INPUT_KINDS),
    head: choice(get('head'), 'head', HEAD_KINDS),
    epochs: wholeNumber(get('epochs'), 'epochs', 1),
    batchSize: wholeNumber(get('batchSize'), 'batchSize', 1),
    optimizer: choice(get('optimizer'), 'optimizer', OPTIMIZER_NAMES),
    lr: positive(get('lr'), 'lr'),
    weightDecay: inRange(get('weightDecay'), 'weightDecay', 0, 1),
    schedule: choice(get('schedule'), 'schedule', SCHEDULE_NAMES),
    warmupEpochs: wholeNumber(get('warmupEpochs'), 'warmupEpochs', 0),
    labelSmoothing: inRange(get('labelSmoothing'), 'labelSmoothing', 0, 1),
    dropout: inRange(get('dropout'), 'dropout', 0, 1),
    patience: wholeNumber(get('patience'), 'patience', 0),
    classWeights: bool(get('classWeights'), 'classWeights'),
    rescale: positive(get('rescale'), 'rescale'),
    seed: wholeNumber(get('seed'), 'seed', 0),
  };
  if (config.warmupEpochs >= config.epochs && config.warmupEpochs > 0) {
    throw new UserError(`--warmup-epochs must be less than --epochs (${config.epochs}), got ${config.warmupEpochs}`);
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
