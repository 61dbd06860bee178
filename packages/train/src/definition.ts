import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { installedVersion, openArrowFile, UserError, type Stage, type StageRun } from '@flowers/core';
import { CUT_DIR, CUT_FILES, CUT_TOP_DIR, FEATURE_FILES, HISTORY_FILE, METRICS_FILE, PIXEL_FILES, PREDICTIONS_FILE } from '@flowers/core/contracts';
import { fileIOHandler } from '@flowers/core/tf';
import { fingerprintChanges, readCheckpointState } from './checkpoint.ts';
import { trainingEngineName } from './engines/index.ts';
import type { TrainConfig } from './config.ts';
import { CHECKPOINT_DIR, MODEL_DIR, PIPELINE_MODEL_FILE, produceTrain } from './stage.ts';

/** The train stage's params as the pipeline spec settles them. */
export interface TrainStepParams extends TrainConfig {
  /** The engine it trains on (see trainingEngineName). */
  engine: string;
  /** ONNX Runtime threads: its reductions may split work by thread count, so the count is keyed. */
  threads?: number;
  /** Fine-tuning: the layer the cut activations come from. */
  unfreeze?: string;
}

async function fileMetadata(file: string): Promise<Record<string, string>> {
  const arrow = await openArrowFile(file);
  try {
    return Object.fromEntries(arrow.schema.metadata);
  } finally {
    await arrow.close();
  }
}

/**
 * Why --resume has nothing to continue: these options make another key than the interrupted
 * training's. Names the newest interrupted training beside this one and what differs.
 */
async function resumeMiss(partialDir: string, config: TrainConfig): Promise<string> {
  const stageDir = path.dirname(partialDir);
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

/** What pipeline-model.json says of the base, from the feature files: evaluate and predict rebuild that very base. */
async function baseMetadata(featuresDir: string, params: TrainStepParams): Promise<Record<string, unknown>> {
  const meta = await fileMetadata(path.join(featuresDir, FEATURE_FILES.train));
  const base = { base: meta.base, alpha: Number(meta.alpha), weights: meta.weights, pool: meta.pool, weights_source: meta.weights_source, weights_sha256: meta.weights_sha256 };
  return params.input === 'cut' ? { ...base, cut: params.unfreeze } : base;
}

async function produce({ dir, params, inputs, env, resuming, resumeRequested }: StageRun<TrainStepParams>) {
  const { engine, threads, unfreeze: _cut, ...config } = params;
  const { backend } = env;
  const running = backend ? trainingEngineName(config, backend) : 'none';
  if (running !== engine) throw new UserError(`train: this training is for the ${engine} engine, but this process runs ${running}`);
  if (resuming) env.log.info('resuming the interrupted training from its last checkpoint');
  else if (resumeRequested) env.log.info(await resumeMiss(dir, config));
  const upstream = config.input === 'pixels' ? inputs.augment! : inputs.features!;
  const files = config.input === 'pixels' ? PIXEL_FILES : config.input === 'cut' ? CUT_FILES : FEATURE_FILES;
  const modelMeta = { experiment: env.pipeline, ...(config.input === 'pixels' ? {} : await baseMetadata(upstream.dir, params)) };
  const baseTop = config.input === 'cut' ? await tf.loadLayersModel(fileIOHandler(path.join(upstream.dir, CUT_DIR, CUT_TOP_DIR))) : undefined;
  const result = await produceTrain({
    outDir: dir,
    trainFile: path.join(upstream.dir, files.train),
    validationFile: path.join(upstream.dir, files.validation),
    testFile: path.join(upstream.dir, files.test),
    config,
    ...(baseTop ? { baseTop, headFiles: { train: path.join(upstream.dir, FEATURE_FILES.train), validation: path.join(upstream.dir, FEATURE_FILES.validation) } } : {}),
    resume: resuming,
    log: env.log,
    backend: backend!,
    ...(threads === undefined ? {} : { threads }),
    signal: env.signal,
    modelMeta,
  });
  return {
    rows: result.rows,
    timings: result.timings,
    backend: engine,
    versions: { tfjs: tf.version.tfjs },
    extra: {
      bestEpoch: result.bestEpoch,
      stoppedEarly: result.stoppedEarly,
      testAccuracy: result.testAccuracy,
      ...(result.testAccuracyTta === undefined ? {} : { testAccuracyTta: result.testAccuracyTta }),
      experiment: env.pipeline,
    },
  };
}

/** Trains the experiment's model on pixels, features or cut activations, and predicts the test split. */
export const trainStage: Stage<TrainStepParams> = {
  name: 'train',
  package: '@flowers/train',
  reads: (params) => [params.input === 'pixels' ? 'augment' : 'features'],
  writes: [MODEL_DIR, PIPELINE_MODEL_FILE, HISTORY_FILE, PREDICTIONS_FILE, METRICS_FILE],
  libraries: async () => ({ tfjs: tf.version.tfjs, 'onnxruntime-node': installedVersion('onnxruntime-node') }),
  keyInputs: async (params, inputs) => {
    const name = params.input === 'pixels' ? 'augment' : 'features';
    return { [name]: inputs[name]!.manifest.key };
  },
  resumable: true,
  engine: (params, env) => (env.backend ? trainingEngineName(params, env.backend) : 'none'),
  produce,
};
