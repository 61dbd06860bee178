/**
 * A base made ready to extract features: its weights read and checked, its engine prepared (an
 * ONNX graph exported, or the weights encoded for TF.js), a pool of workers that load it, and the
 * layers above the cut saved. That takes seconds. A long-lived process that runs many shards of
 * one artifact (a queue worker: `keepWarm`) keeps the last base it prepared for the next shard
 * instead of preparing it again.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { canonicalJson, createPool, KeptWarm, type Logger, type Piscina } from '@flowers/core';
import { fileIOHandler } from '@flowers/core/tf';
import { ENGINE_THREAD_MODULES, onnxSessionLayout, prepareEngine, type EngineData } from './engines/index.ts';
import { buildFeatureModel, type FeatureModelSpec } from './feature_model.ts';
import type { FeaturesWorkerData } from './features_worker.ts';
import { splitAtLayer } from './models/index.ts';
import { applyLayerWeights } from './weights/apply.ts';
import { resolveWeights, type ResolvedWeights } from './weights/resolve.ts';
import type { FeaturesStageOptions, FeaturesStageParams } from './stage.ts';

export interface PreparedBase {
  /** The weights' identity and origin (their values live in the engine now). */
  weights: Omit<ResolvedWeights, 'layers'>;
  featureShape: number[];
  cutShape?: number[];
  layer: string;
  engine: EngineData;
  workers: number;
  pool: Piscina;
  /** The pretrained layers above the cut, saved in a folder of their own for each output to copy. */
  topDir?: string;
  /** What preparing took. */
  seconds: number;
}

type PrepareOptions = Pick<FeaturesStageOptions, 'workers' | 'threads' | 'onnxSessions' | 'backend' | 'cacheDir'> & {
  log: Logger;
  onDownload?: (done: number, total: number | undefined) => void;
};

async function prepareBase(params: FeaturesStageParams, inputSize: number, options: PrepareOptions): Promise<PreparedBase> {
  const { backend, log } = options;
  let workers = Math.max(1, options.workers);
  let threads: number | undefined;
  if (backend.name === 'tensorflow' && workers > 1) {
    log.info('features: 1 worker, since native TensorFlow uses every core by itself');
    workers = 1;
  }
  if (backend.onnx !== undefined) {
    ({ sessions: workers, threadsPerSession: threads } = onnxSessionLayout(params.base, options.threads, options.onnxSessions));
    log.info(`features: ${workers} ONNX Runtime session(s) of ${threads} thread(s)`);
  }
  const started = performance.now();
  const { layers, ...weights } = await resolveWeights({
    base: params.base,
    alpha: params.alpha,
    inputSize,
    weights: params.weights,
    cacheDir: options.cacheDir,
    ...(options.onDownload ? { onProgress: options.onDownload } : {}),
    log,
  });
  // Apply the weights here once, so a wrong file fails before any worker starts. The base is
  // as wide as its weights: a fallback to a bundled base may have switched the width.
  const spec: FeatureModelSpec = { base: params.base, alpha: weights.alpha, inputSize, pool: params.pool, pixelScaling: weights.pixelScaling, ...(params.cut === undefined ? {} : { cut: params.cut }) };
  const featureModel = buildFeatureModel(spec);
  let engine: EngineData;
  let topDir: string | undefined;
  try {
    applyLayerWeights(featureModel.base, layers, weights.source);
    if (params.cut !== undefined) {
      topDir = await mkdtemp(path.join(os.tmpdir(), 'flowers-base-top-'));
      await splitAtLayer(featureModel.base, params.cut).top.save(fileIOHandler(topDir));
    }
    engine = await prepareEngine(featureModel, backend, { batchSize: params.batchSize, ...(threads === undefined ? {} : { threads }), weightsSha256: weights.sha256, cacheDir: options.cacheDir, log });
  } catch (error) {
    if (topDir) await rm(topDir, { recursive: true, force: true });
    throw error;
  } finally {
    featureModel.base.dispose();
  }
  const workerData: FeaturesWorkerData = { engine };
  const pool = createPool(ENGINE_THREAD_MODULES[engine.engine], workers, { workerData });
  const { featureShape, cutShape, layer } = featureModel;
  return { weights, featureShape, ...(cutShape === undefined ? {} : { cutShape }), layer, engine, workers, pool, ...(topDir ? { topDir } : {}), seconds: (performance.now() - started) / 1000 };
}

async function disposeBase(base: PreparedBase): Promise<void> {
  await base.pool.destroy();
  if (base.topDir) await rm(base.topDir, { recursive: true, force: true });
}

/** The base a long-lived process keeps between shards (one at a time: a base holds its threads and sessions). */
const warmBases = new KeptWarm<PreparedBase>(disposeBase, 1);

/**
 * Runs `use` on the base these params need: with `keepWarm`, the kept one when it was prepared for
 * the same params, engine and layout (else the kept one is disposed and this one kept in its
 * place); without, a fresh one, disposed after. `reused` says nothing was prepared for this call.
 */
export function withBase<R>(
  params: FeaturesStageParams,
  inputSize: number,
  options: PrepareOptions & { keepWarm?: boolean },
  use: (base: PreparedBase, reused: boolean) => Promise<R>,
): Promise<R> {
  const key = canonicalJson({ params, inputSize, backend: options.backend.name, workers: options.workers, threads: options.threads, onnxSessions: options.onnxSessions, cacheDir: options.cacheDir });
  return warmBases.use(key, options.keepWarm ?? false, () => prepareBase(params, inputSize, options), use);
}

/** Disposes the kept base, if there is one (a queue worker, when it stops). */
export function releaseWarmBase(): Promise<void> {
  return warmBases.release();
}
