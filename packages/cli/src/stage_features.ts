import { stat } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { type Artifact, errorMessage, runStage, toChoice, toInt, toNumber, UserError } from '@flowers/core';
import { BACKEND_REQUESTS, selectBackend, type BackendRequest, type SelectedBackend } from '@flowers/core/tf';
import {
  applyLayerWeights,
  BASE_NAMES,
  buildBase,
  downloadProgress,
  featuresCodeVersion,
  MOBILENET_V2_ALPHAS,
  NAMED_WEIGHTS,
  produceFeatures,
  resolveWeights,
  settleWeights,
  type FeaturesStageParams,
  type MobileNetV2Alpha,
  type SettledWeights,
} from '@flowers/features';
import { resolvePath, type PipelineContext } from './context.ts';
import { type OptionValues } from './options.ts';

export const FEATURES_DEFAULTS: OptionValues = { base: 'inception_v3', alpha: 1.0, pool: 'none', weights: 'auto', backend: 'auto', inferenceBatch: 32 };

export function addFeaturesOptions(command: Command): Command {
  return command
    .addOption(new Option('--base <name>', 'pretrained convolutional base (default: inception_v3)').choices([...BASE_NAMES]))
    .option('--alpha <a>', 'MobileNetV2 width multiplier: 0.35, 0.5, 0.75 or 1.0')
    .addOption(new Option('--pool <mode>', "'avg' (global average pooling) or 'none' (the flattened map, as the experiment's Flatten)").choices(['avg', 'none']))
    .option('--weights <w>', "'auto' (ImageNet, else the base bundled with nsfwjs), 'imagenet', 'nsfwjs-inception', 'nsfwjs-mobilenet-v2', or a path to a Keras .h5 file or a TF.js model.json")
    .option('--cut <layer>', "also cache activations at this inner layer for fine-tuning ('default': the base's fine-tuning cut)")
    .option('--inference-batch <n>', 'images per forward pass (default: 32, one record batch)')
    .addOption(backendOption())
    .option('--threads <n>', 'ONNX Runtime threads in all (default: one per core)');
}

/** --backend, as every model command takes it. */
export function backendOption(): Option {
  return new Option('--backend <name>', "compute engine: auto (the fastest that loads: tensorflow, then onnx, then wasm, then cpu), tensorflow, onnx, wasm or cpu").choices([...BACKEND_REQUESTS]);
}

/** --threads as a count, checked before any stage runs; undefined means one per core. */
export function threadsFrom(values: OptionValues): number | undefined {
  return values.threads === undefined ? undefined : toInt(values.threads, 'threads', 1, 1024);
}

/** Activates the backend once per process and says which one was taken and why. */
let selected: { requested: BackendRequest; backend: SelectedBackend } | undefined;
export async function activateBackend(context: PipelineContext, values: OptionValues): Promise<SelectedBackend> {
  const requested = toChoice(values.backend, 'backend', BACKEND_REQUESTS);
  if (selected?.requested !== requested) {
    selected = { requested, backend: await selectBackend(requested) };
    context.log.info(`backend: ${selected.backend.name} — ${selected.backend.reason}`);
  }
  return selected.backend;
}

/**
 * The weights as a cache-key input: a named choice as is, a file by its absolute path, size
 * and modification time (so replacing the file invalidates the features).
 */
async function weightsParam(value: unknown): Promise<string> {
  const text = String(value);
  if ((NAMED_WEIGHTS as readonly string[]).includes(text)) return text;
  const full = resolvePath(text);
  const info = await stat(full).catch(() => undefined);
  if (!info) throw new UserError(`weights file not found: ${full}`);
  return `${full}#${info.size}:${Math.floor(info.mtimeMs)}`;
}

export async function featuresParamsFrom(values: OptionValues): Promise<FeaturesStageParams & { weightsKey: string }> {
  threadsFrom(values);
  const weights = String(values.weights);
  const base = toChoice(values.base, 'base', BASE_NAMES);
  const alpha = toNumber(values.alpha, 'alpha');
  if (base === 'mobilenet_v2' && !(MOBILENET_V2_ALPHAS as readonly number[]).includes(alpha)) {
    throw new UserError(`--alpha must be one of ${MOBILENET_V2_ALPHAS.join(', ')} for --base mobilenet_v2, got ${alpha}`);
  }
  return {
    base,
    alpha,
    pool: toChoice(values.pool, 'pool', ['avg', 'none'] as const),
    weights: (NAMED_WEIGHTS as readonly string[]).includes(weights) ? weights : resolvePath(weights),
    weightsKey: await weightsParam(weights),
    ...(values.cut ? { cut: String(values.cut) } : {}),
    batchSize: toInt(values.inferenceBatch, 'inferenceBatch', 1, 4096),
  };
}

/**
 * Reads the weights and loads them into the base once, before any stage runs, so that a missing,
 * truncated, foreign or wrong-architecture file fails in one line naming it, not after ingest and
 * augment. Quiet (a download still shows its progress): the features stage reports its weights.
 */
export async function checkWeights(values: OptionValues): Promise<void> {
  const params = await featuresParamsFrom(values);
  const inputSize = toInt(values.size, 'size');
  const download = downloadProgress();
  const settled = await settleWeights({ base: params.base, alpha: params.alpha, inputSize, weights: params.weights, onProgress: download.onProgress }).finally(download.finish);
  const where = typeof params.weights === 'string' && !(NAMED_WEIGHTS as readonly string[]).includes(params.weights) ? params.weights : settled.weights;
  try {
    const weights = await resolveWeights({ base: params.base, alpha: settled.alpha, inputSize, weights: settled });
    const base = buildBase(params.base, { inputSize, alpha: settled.alpha as MobileNetV2Alpha });
    try {
      applyLayerWeights(base, weights.layers, weights.source);
    } finally {
      base.dispose();
    }
  } catch (error) {
    const message = errorMessage(error).split('\n')[0]!;
    throw new UserError(message.includes(String(where)) ? message : `weights ${where}: ${message}`);
  }
}

/** The features artifact, and the weights this run settled on (cached features may have come from another choice of the same weights). */
export async function ensureFeatures(context: PipelineContext, values: OptionValues, augment: Artifact): Promise<{ artifact: Artifact; weights: SettledWeights }> {
  const { weightsKey, ...params } = await featuresParamsFrom(values);
  const backend = await activateBackend(context, values);
  // 'auto' is settled before the key is made, so features from a fallback base are never
  // taken for ImageNet ones (or the other way round) once the ImageNet file can be had.
  const download = downloadProgress();
  const weights = await settleWeights({
    base: params.base,
    alpha: params.alpha,
    inputSize: toInt(values.size, 'size'),
    weights: params.weights,
    onProgress: download.onProgress,
    log: context.log,
  }).finally(download.finish);
  const artifact = await runStage(
    context.workspace,
    {
      stage: 'features',
      codeVersion: await featuresCodeVersion(),
      // The engine is part of the key: different engines give slightly different floats. ONNX
      // Runtime's thread count is not: its features are bit-identical for any count (tested).
      params: { ...params, alpha: weights.alpha, weights: params.weights === 'auto' ? weights.weights : weightsKey, backend: backend.name },
      inputs: { augment: augment.manifest.key },
    },
    ({ dir }) => {
      const threads = threadsFrom(values);
      return produceFeatures(dir, augment.dir, { ...params, weights }, { workers: context.options.workers, ...(threads === undefined ? {} : { threads }), backend, log: context.log });
    },
    { log: context.log, force: context.options.force.has('features') },
  );
  // The stage prints the warning when it runs; cached features come from the same weights.
  if (artifact.cached && weights.warning !== undefined) context.log.warn(weights.warning);
  return { artifact, weights };
}
