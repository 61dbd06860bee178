import path from 'node:path';
import { stat } from 'node:fs/promises';
import { toBool, toChoice, toInt, toNumber, UserError, type Logger, type PipelineStep, type Workspace } from '@flowers/core';
import { BACKEND_REQUESTS, selectBackend, type SelectedBackend } from '@flowers/core/tf';
import { AUGMENT_PRESETS, augmentStage, FILL_MODES, validateAugmentParams, type AugmentParams, type AugmentStageParams } from '@flowers/augment';
import { BASE_NAMES, BASES, checkWeights, downloadProgress, featuresStage, MOBILENET_V2_ALPHAS, NAMED_WEIGHTS, type FeaturesStepParams } from '@flowers/features';
import { ensureDemoDataset, ingestStage, parseSplitFractions, type IngestParams } from '@flowers/ingest';
import { minInputSize, resolveTrainConfig, trainingEngineName, trainsOnOnnx, trainStage, type TrainConfig, type TrainStepParams } from '@flowers/train';
import { availableParallelism } from 'node:os';

/** Option values by long option name (camelCase), layered by the caller: flags > config > preset > defaults. */
export type OptionValues = Readonly<Record<string, unknown>>;

export const STAGE_NAMES = ['ingest', 'augment', 'features', 'train'] as const;
export type StageName = (typeof STAGE_NAMES)[number];

/**
 * An experiment as a typed value: the params of each stage it runs, checked once, and the
 * resources to run them with. Its stages, in order, are `pipelineSteps(spec)`.
 */
export interface PipelineSpec {
  /** The last stage to run. */
  through: StageName;
  /** The experiment's name: its pipeline's name in pipeline.lock, and the default run name's start. */
  experiment: string;
  ingest: IngestParams;
  augment: AugmentStageParams;
  /** Unset when the model trains on pixels (or the command stops before features). */
  features?: FeaturesStepParams;
  train?: TrainStepParams;
  workers: number;
  /** ONNX Runtime threads in all; undefined: one per core. */
  threads?: number;
  /** ONNX Runtime sessions for the base, overriding its tuned layout (hidden --onnx-sessions). */
  onnxSessions?: number;
  /** Selected once for the process, for the stages that run models. */
  backend?: SelectedBackend;
}

export interface ResolveSpecOptions {
  /** The last stage the command runs. */
  through: StageName;
  /** Options the user gave (flags, config), as opposed to the preset's or a default. */
  explicit: ReadonlySet<string>;
  /** Where relative paths (data, weights) are resolved from. */
  cwd: string;
  /** Holds the demo data set when there is no data folder. */
  workspace: Workspace;
  log: Logger;
}

/** `--data`, else ./data/flowers, else a generated demo set (with a banner saying so). */
async function resolveDataDir(data: unknown, { cwd, workspace, log }: ResolveSpecOptions): Promise<string> {
  if (data !== undefined) {
    // An empty value is a mistake (an unset shell variable), never a request for the demo set.
    if (String(data).trim() === '') throw new UserError('--data is empty: give a folder with one sub-folder of images per class');
    return path.resolve(cwd, String(data));
  }
  const local = path.join(cwd, 'data', 'flowers');
  if (await stat(local).then((s) => s.isDirectory(), () => false)) return local;
  const demo = await ensureDemoDataset(path.join(workspace.root, 'demo-data', 'flowers'));
  log.info(
    [
      '================================================================',
      ' No --data given and no ./data/flowers here: using a small synthetic',
      ` five-class demo set (${demo}).`,
      ' For real results point the pipeline at a folder of class folders:',
      '   pnpm pipeline all --data /path/to/flowers',
      '================================================================',
    ].join('\n'),
  );
  return demo;
}

/** Keras ImageDataGenerator parameter -> its option's key. */
const KERAS_OPTION_KEYS: Record<keyof AugmentParams, string> = {
  rotation_range: 'rotationRange',
  width_shift_range: 'widthShiftRange',
  height_shift_range: 'heightShiftRange',
  shear_range: 'shearRange',
  zoom_range: 'zoomRange',
  horizontal_flip: 'horizontalFlip',
  vertical_flip: 'verticalFlip',
  fill_mode: 'fillMode',
  cval: 'cval',
};

function augmentParamsFrom(values: OptionValues, seed: number): AugmentStageParams {
  const preset = AUGMENT_PRESETS[toChoice(values.augment, 'augment', ['none', 'experiment'] as const)];
  const keras: Record<string, unknown> = { ...preset };
  for (const [kerasName, key] of Object.entries(KERAS_OPTION_KEYS)) {
    const value = values[key];
    if (value === undefined) continue;
    keras[kerasName] =
      kerasName === 'fill_mode' ? toChoice(value, key, FILL_MODES) : kerasName.endsWith('_flip') ? toBool(value, key) : toNumber(value, key);
  }
  const params: AugmentStageParams = {
    size: toInt(values.size, 'size'),
    views: toInt(values.views, 'views', 0, 1000),
    augment: keras as unknown as AugmentParams,
    seed,
    ...(toBool(values.tta, 'tta') ? { tta: true as const } : {}),
  };
  try {
    validateAugmentParams(params.augment, params.size);
  } catch (error) {
    throw new UserError((error as Error).message);
  }
  if (params.views > 0 && JSON.stringify(params.augment) === JSON.stringify(AUGMENT_PRESETS.none)) {
    throw new UserError(`--views ${params.views} asks for augmented views but no augmentation is set: add --augment experiment or Keras parameters such as --rotation-range`);
  }
  return params;
}

/** A cut layer as given ('' or 'default': the base's usual fine-tuning cut). */
function cutLayer(given: string, base: keyof typeof BASES): string {
  return given === '' || given === 'default' ? BASES[base].fineTuneFrom : given;
}

/** The train stage's options, before the engine is known: every check that needs no model. */
function trainConfigFrom(values: OptionValues, seed: number, options: ResolveSpecOptions): TrainConfig {
  const config = resolveTrainConfig({ ...values, seed });
  const size = toInt(values.size, 'size');
  if (config.epochViews === 1 && toInt(values.views, 'views', 0) === 0) {
    throw new UserError('--epoch-views 1 takes one augmented view of each photo per epoch, but --views is 0: add --views K or use --epoch-views all');
  }
  if (config.input === 'pixels' && size < minInputSize(config.head)) {
    throw new UserError(`--size ${size} is too small for --head ${config.head}: it needs at least ${minInputSize(config.head)} pixels`);
  }
  // Early stopping watches val_loss, which a split without validation rows does not have: an
  // explicit --patience is then an error, and a preset's own patience is switched off.
  if (config.patience > 0 && parseSplitFractions(String(values.split))[1] === 0) {
    if (options.explicit.has('patience')) throw new UserError(`early stopping needs a validation split: --patience ${config.patience} with --split ${values.split}`);
    options.log.info(`no validation split (--split ${values.split}): early stopping (the ${String(values.experiment)} preset's --patience ${config.patience}) is off`);
    return { ...config, patience: 0 };
  }
  return config;
}

/** The base's options, checked; the weights are settled and read later (see settleFeatures). */
function baseOptionsFrom(values: OptionValues) {
  const base = toChoice(values.base, 'base', BASE_NAMES);
  const alpha = toNumber(values.alpha, 'alpha');
  if (base === 'mobilenet_v2' && !(MOBILENET_V2_ALPHAS as readonly number[]).includes(alpha)) {
    throw new UserError(`--alpha must be one of ${MOBILENET_V2_ALPHAS.join(', ')} for --base mobilenet_v2, got ${alpha}`);
  }
  const size = toInt(values.size, 'size');
  if (size < BASES[base].minInputSize) throw new UserError(`--size ${size} is too small for --base ${base}: it needs at least ${BASES[base].minInputSize} pixels`);
  return { base, alpha, size, pool: toChoice(values.pool, 'pool', ['avg', 'none'] as const), batchSize: toInt(values.inferenceBatch, 'inferenceBatch', 1, 4096) };
}

/**
 * Reads the weights and loads them into the base before any stage runs, so a bad file fails in
 * one line naming it; 'auto' is settled here, so the key names the weights that will be used.
 */
async function settleFeatures(values: OptionValues, cut: { layer: string; option: string } | undefined, options: ResolveSpecOptions): Promise<Omit<FeaturesStepParams, 'engine'>> {
  const { base, alpha, size, pool, batchSize } = baseOptionsFrom(values);
  const choice = String(values.weights);
  const named = (NAMED_WEIGHTS as readonly string[]).includes(choice);
  const weights = named ? choice : path.resolve(options.cwd, choice);
  if (!named && !(await stat(weights).then(() => true, () => false))) throw new UserError(`weights file not found: ${weights}`);
  const download = downloadProgress();
  const checked = await checkWeights({ base, alpha, inputSize: size, weights, ...(cut === undefined ? {} : { cut }), onProgress: download.onProgress, log: options.log }).finally(download.finish);
  if (checked.settled.warning !== undefined) options.log.warn(checked.settled.warning);
  return { base, alpha: checked.settled.alpha, pool, batchSize, weights: checked.settled, weightsSha256: checked.sha256, ...(cut === undefined ? {} : { cut: cut.layer }) };
}

/** --threads as a count, checked before any stage runs; undefined means one per core. */
function threadsFrom(values: OptionValues): number | undefined {
  return values.threads === undefined ? undefined : toInt(values.threads, 'threads', 1, 1024);
}

/**
 * Parses and checks every option of an experiment once, before any stage runs, into its spec:
 * a bad value fails in one line and never costs a long stage. Selects the engine and settles the
 * weights for the stages that need them.
 */
export async function resolvePipelineSpec(values: OptionValues, options: ResolveSpecOptions): Promise<PipelineSpec> {
  const through = STAGE_NAMES.indexOf(options.through);
  const seed = toInt(values.seed, 'seed', 0);
  const workers = toInt(values.workers, 'workers', 1, 256);
  const threads = threadsFrom(values);
  const split = parseSplitFractions(String(values.split));
  const maxPixels = toInt(values.maxPixels, 'maxPixels', 1);
  const augment = augmentParamsFrom(values, seed);
  const config = through >= 3 ? trainConfigFrom(values, seed, options) : undefined;
  const wantsFeatures = through === 2 || (config !== undefined && config.input !== 'pixels');
  // Fine-tuning caches the activations at the layer it trains above; `features --cut` asks for them.
  const cutOption = config?.input === 'cut' ? String(values.unfreeze ?? '') : values.cut === undefined ? undefined : String(values.cut);
  const cut = cutOption === undefined ? undefined : cutLayer(cutOption, toChoice(values.base, 'base', BASE_NAMES));
  const requested = toChoice(values.backend, 'backend', BACKEND_REQUESTS);
  const cutChecked = cut === undefined ? undefined : { layer: cut, option: config?.input === 'cut' ? '--unfreeze' : '--cut' };
  const settled = wantsFeatures ? await settleFeatures(values, cutChecked, options) : undefined;
  // An engine that cannot load fails here, before any stage.
  let backend: SelectedBackend | undefined;
  if (through >= 2) {
    backend = await selectBackend(requested);
    options.log.info(`backend: ${backend.name} — ${backend.reason}`);
  }
  const features = settled ? { ...settled, engine: backend!.name } : undefined;
  const train: TrainStepParams | undefined =
    config === undefined
      ? undefined
      : {
          ...config,
          engine: trainingEngineName(config, backend!),
          ...(trainsOnOnnx(config, backend!) ? { threads: threads ?? availableParallelism() } : {}),
          ...(config.input === 'cut' ? { unfreeze: cut! } : {}),
        };
  return {
    through: options.through,
    experiment: String(values.experiment ?? 'custom'),
    ingest: { dataDir: await resolveDataDir(values.data, options), split, seed, maxPixels },
    augment,
    ...(features ? { features } : {}),
    ...(train ? { train } : {}),
    workers,
    ...(threads === undefined ? {} : { threads }),
    ...(values.onnxSessions === undefined ? {} : { onnxSessions: toInt(values.onnxSessions, 'onnxSessions', 1, 256) }),
    ...(backend ? { backend } : {}),
  };
}

/** The features a spec extracts and everything upstream of them, but for the cut layer. */
function extractionOf(spec: PipelineSpec): string | undefined {
  if (!spec.features) return undefined;
  const { cut: _cut, ...features } = spec.features;
  return JSON.stringify([spec.ingest, spec.augment, features]);
}

/**
 * Experiments run together (`--experiment all`) whose features differ only in the cut layer
 * share one extraction: one without a cut takes the cut another one asks for, so the features
 * stage runs once and writes the cut activations in the same pass.
 */
export function shareFeatureExtraction(specs: readonly PipelineSpec[]): PipelineSpec[] {
  return specs.map((spec) => {
    if (!spec.features || spec.features.cut !== undefined) return spec;
    const donor = specs.find((other) => other.features?.cut !== undefined && extractionOf(other) === extractionOf(spec));
    return donor ? { ...spec, features: { ...spec.features, cut: donor.features!.cut! } } : spec;
  });
}

/** Every stage a pipeline may run, in order: what a queue worker can serve. */
export const PIPELINE_STAGES = [ingestStage, augmentStage, featuresStage, trainStage] as const;

/** The spec's stages in order, each with its params: those the spec runs (through `through`). */
export function pipelineSteps(spec: PipelineSpec): PipelineStep[] {
  const params: Record<string, unknown> = { ingest: spec.ingest, ...(spec.through === 'ingest' ? {} : { augment: spec.augment }), features: spec.features, train: spec.train };
  return PIPELINE_STAGES.filter((stage) => params[stage.name] !== undefined).map((stage) => ({ stage, params: params[stage.name] }) as PipelineStep);
}
