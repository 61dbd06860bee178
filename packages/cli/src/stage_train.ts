import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { availableParallelism } from 'node:os';
import { Option, type Command } from 'commander';
import * as tf from '@tensorflow/tfjs';
import { type Artifact, openArrowFile, runStage, toInt, UserError } from '@flowers/core';
import { CUT_DIR, FEATURE_FILES, PIXEL_FILES } from '@flowers/core/contracts';
import { applyLayerWeights, BASES, buildBase, resolveWeights, splitAtLayer, type BaseName, type MobileNetV2Alpha } from '@flowers/features';
import {
  CHECKPOINT_DIR,
  HEAD_KINDS,
  INPUT_KINDS,
  OPTIMIZER_NAMES,
  SCHEDULE_NAMES,
  fingerprintChanges,
  minInputSize,
  produceTrain,
  readCheckpointState,
  trainingEngineName,
  trainsOnOnnx,
  resolveTrainConfig,
  trainCodeVersion,
  type TrainConfig,
} from '@flowers/train';
import type { PipelineContext } from './context.ts';
import { activateBackend, featuresParamsFrom, threadsFrom } from './stage_features.ts';
import { type OptionValues } from './options.ts';

export function addTrainOptions(command: Command): Command {
  return command
    .addOption(new Option('--input <kind>', "what the model reads: 'pixels', 'features' (frozen base) or 'cut' (fine-tune the top of the base)").choices([...INPUT_KINDS]))
    .addOption(new Option('--head <kind>', 'model on top of the input').choices([...HEAD_KINDS]))
    .option('--unfreeze <layer>', "fine-tuning: train the base above this layer ('default': the base's usual cut, InceptionV3 mixed8)")
    .option('--epochs <n>', 'training epochs')
    .option('--batch-size <n>', 'training batch size')
    .addOption(new Option('--optimizer <name>', 'optimizer').choices([...OPTIMIZER_NAMES]))
    .option('--lr <rate>', 'learning rate')
    .option('--weight-decay <w>', 'decoupled weight decay (adamw)')
    .addOption(new Option('--schedule <name>', 'learning-rate schedule').choices([...SCHEDULE_NAMES]))
    .option('--warmup-epochs <n>', 'linear warm-up epochs for the schedule')
    .option('--label-smoothing <e>', 'label smoothing, 0 to 1')
    .option('--dropout <p>', 'dropout rate of the head')
    .option('--patience <n>', 'early stopping: epochs without a better val_loss (0 = off); restores the best weights')
    .option('--class-weights', 'weight classes by inverse frequency')
    .option('--no-class-weights', 'no class weights')
    .option('--epoch-views <n>', "training rows per epoch: 1 (one augmented view of each photo, as Keras' generators) or all (every view)")
    .option('--rescale <r>', "input scale factor, e.g. '1/255' for pixels")
    .option('--resume', 'continue an interrupted training from its last checkpoint');
}

/** The cut layer a fine-tuning run trains above. */
function cutLayer(values: OptionValues): string {
  const unfreeze = String(values.unfreeze ?? '');
  return unfreeze === '' || unfreeze === 'default' ? BASES[values.base as BaseName].fineTuneFrom : unfreeze;
}

export interface TrainInputs {
  augment: Artifact;
  features?: Artifact;
}

/** Options the train stage needs from earlier stages: `cut` for fine-tuning. */
export function featuresValuesFor(values: OptionValues): OptionValues {
  return values.input === 'cut' ? { ...values, cut: cutLayer(values) } : values;
}

export function trainConfigFrom(values: OptionValues, seed: number): TrainConfig {
  const config = resolveTrainConfig({ ...values, seed });
  const size = toInt(values.size, 'size');
  if (config.epochViews === 1 && toInt(values.views, 'views', 0) === 0) {
    throw new UserError('--epoch-views 1 takes one augmented view of each photo per epoch, but --views is 0: add --views K or use --epoch-views all');
  }
  if (config.input === 'pixels' && size < minInputSize(config.head)) {
    throw new UserError(`--size ${size} is too small for --head ${config.head}: it needs at least ${minInputSize(config.head)} pixels`);
  }
  if (config.input !== 'pixels') {
    const base = values.base as BaseName;
    if (size < BASES[base].minInputSize) throw new UserError(`--size ${size} is too small for --base ${base}: it needs at least ${BASES[base].minInputSize} pixels`);
  }
  return config;
}

/** The base the features were computed with, as their files record it. */
interface FeaturesBase {
  base: BaseName;
  alpha: number;
  /** The settled choice ('imagenet', a bundled base or a path), never 'auto'. */
  weights: string;
}

/** The pretrained layers above the cut, with the weights the features were computed with. */
async function loadBaseTop(context: PipelineContext, { base: name, alpha, weights: choice }: FeaturesBase, inputSize: number, cut: string): Promise<tf.LayersModel> {
  const base = buildBase(name, { inputSize, alpha: alpha as MobileNetV2Alpha });
  const weights = await resolveWeights({ base: name, alpha, inputSize, weights: choice, log: context.log });
  applyLayerWeights(base, weights.layers, weights.source);
  return splitAtLayer(base, cut).top;
}

async function featureMetadata(file: string): Promise<Record<string, string>> {
  const arrow = await openArrowFile(file);
  try {
    return Object.fromEntries(arrow.schema.metadata);
  } finally {
    await arrow.close();
  }
}

/**
 * Why --resume has nothing to continue: these options make another artifact key than the
 * interrupted training's. Names the newest interrupted training and what differs.
 */
async function resumeMiss(context: PipelineContext, config: TrainConfig): Promise<string> {
  const stageDir = path.join(context.workspace.artifactsDir, 'train');
  let newest: { dir: string; mtimeMs: number; fingerprint: string } | undefined;
  for (const entry of await readdir(stageDir).catch(() => [] as string[])) {
    if (!entry.startsWith('.partial-')) continue;
    const checkpointDir = path.join(stageDir, entry, CHECKPOINT_DIR);
    const saved = await readCheckpointState(checkpointDir).catch(() => undefined);
    const mtimeMs = saved ? (await stat(saved.epochDir)).mtimeMs : 0;
    if (saved && (!newest || mtimeMs > newest.mtimeMs)) newest = { dir: checkpointDir, mtimeMs, fingerprint: saved.state.fingerprint };
  }
  if (!newest) return '--resume: there is no interrupted training to continue; training from the start';
  const changes = fingerprintChanges(newest.fingerprint, config);
  const why = changes.length ? `other options (${changes.join('; ')})` : 'other data, code or backend';
  return `--resume: the interrupted training in ${newest.dir} had ${why}; training these options from the start (rerun with its options to continue it)`;
}

export async function ensureTrain(context: PipelineContext, values: OptionValues, inputs: TrainInputs, signal: AbortSignal): Promise<Artifact> {
  const config = trainConfigFrom(values, context.options.seed);
  const backend = await activateBackend(context, values);
  const trainingBackend = trainingEngineName(config, backend);
  // ONNX Runtime's reductions may split work by thread count, so the count is part of the key.
  const threads = threadsFrom(values) ?? availableParallelism();
  const upstream = config.input === 'pixels' ? inputs.augment : inputs.features;
  if (!upstream) throw new Error(`train: --input ${config.input} needs the features artifact`);
  const dir = config.input === 'cut' ? path.join(upstream.dir, CUT_DIR) : upstream.dir;
  const files = config.input === 'pixels' ? PIXEL_FILES : FEATURE_FILES;
  const experiment = String(values.experiment ?? 'custom');
  return runStage(
    context.workspace,
    {
      stage: 'train',
      codeVersion: await trainCodeVersion(),
      params: { ...config, backend: trainingBackend, ...(trainsOnOnnx(config, backend) ? { threads } : {}), ...(config.input === 'cut' ? { unfreeze: cutLayer(values) } : {}) },
      inputs: { [config.input === 'pixels' ? 'augment' : 'features']: upstream.manifest.key },
    },
    async ({ dir: outDir, resuming }) => {
      if (resuming) context.log.info('resuming the interrupted training from its last checkpoint');
      else if (values.resume) context.log.info(await resumeMiss(context, config));
      let modelMeta: Record<string, unknown> = { experiment };
      let baseTop: tf.LayersModel | undefined;
      if (config.input !== 'pixels') {
        const meta = await featureMetadata(path.join(dir, files.train));
        const { pool } = await featuresParamsFrom(values);
        // What the features stage used, which 'auto' may have switched (see settleWeights), so
        // evaluate and predict rebuild that very base.
        const featuresBase: FeaturesBase = { base: meta.base as BaseName, alpha: Number(meta.alpha), weights: meta.weights! };
        modelMeta = { ...modelMeta, ...featuresBase, pool, weights_source: meta.weights_source, weights_sha256: meta.weights_sha256 };
        if (config.input === 'cut') {
          const cut = cutLayer(values);
          baseTop = await loadBaseTop(context, featuresBase, toInt(values.size, 'size'), cut);
          modelMeta = { ...modelMeta, cut };
        }
      }
      const result = await produceTrain({
        outDir,
        trainFile: path.join(dir, files.train),
        validationFile: path.join(dir, files.validation),
        testFile: path.join(dir, files.test),
        config,
        ...(baseTop ? { baseTop } : {}),
        resume: resuming,
        log: context.log,
        backend,
        threads,
        signal,
        modelMeta,
      });
      return {
        rows: result.rows,
        timings: result.timings,
        backend: trainingBackend,
        versions: { tfjs: tf.version.tfjs },
        extra: { bestEpoch: result.bestEpoch, stoppedEarly: result.stoppedEarly, testAccuracy: result.testAccuracy, experiment },
      };
    },
    { log: context.log, force: context.options.force.has('train'), resume: Boolean(values.resume) },
  );
}
