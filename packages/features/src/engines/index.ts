import { availableParallelism } from 'node:os';
import type { Logger } from '@flowers/core';
import type { SelectedBackend } from '@flowers/core/tf';
import { encodeModelWeights, type FeatureModel } from '../feature_model.ts';
import type { BaseName } from '../models/index.ts';
import { featuresCodeVersion } from '../code_version.ts';
import { cachedFeatureGraph } from '../onnx/graph_cache.ts';
import type { BaseRunner, EngineData } from './engine.ts';
import { loadOnnxRunner } from './onnx_engine.ts';
import { loadTfjsRunner } from './tfjs_engine.ts';

export { tfjsRunner } from './tfjs_engine.ts';
export type { BaseRunner, EngineData, FeatureRows } from './engine.ts';

/** Each engine's loader, by name: a new engine adds an entry, not a branch in the stages. */
const ENGINE_LOADERS: { [E in EngineData['engine']]: (data: Extract<EngineData, { engine: E }>) => Promise<BaseRunner> } = {
  tfjs: loadTfjsRunner,
  onnx: loadOnnxRunner,
};

/**
 * Each engine's features pool thread module, by name. A module of its own per engine, so that a
 * thread loads only its engine: an ONNX Runtime thread starts without TensorFlow.js, about 0.9 s
 * of imports on these machines. (A thread cannot import the engine lazily instead: the TypeScript
 * loader does not serve a pool thread's dynamic imports.)
 */
export const ENGINE_THREAD_MODULES: { readonly [E in EngineData['engine']]: URL } = {
  tfjs: new URL('./tfjs_thread.ts', import.meta.url),
  onnx: new URL('./onnx_thread.ts', import.meta.url),
};

/** Loads a base in this thread from what prepareEngine made (in this thread or the parent). */
export function loadBaseRunner(data: EngineData): Promise<BaseRunner> {
  return (ENGINE_LOADERS[data.engine] as (data: EngineData) => Promise<BaseRunner>)(data);
}

export interface PrepareEngineOptions {
  /** Images per forward pass. */
  batchSize: number;
  /** ONNX Runtime intra-op threads per session (default: one per core). */
  threads?: number;
  weightsSha256: string;
  cacheDir?: string | undefined;
  log?: Logger;
}

/**
 * What any thread needs to run `featureModel` (weights set) on the selected engine: for ONNX
 * Runtime the graph exported into the weights cache, for TensorFlow.js the encoded weights.
 */
export async function prepareEngine(featureModel: FeatureModel, backend: SelectedBackend, options: PrepareEngineOptions): Promise<EngineData> {
  const { spec } = featureModel;
  if (backend.onnx === undefined) {
    return { engine: 'tfjs', backend: backend.tfjs, spec, batchSize: options.batchSize, weights: await encodeModelWeights(featureModel.base) };
  }
  const graph = await cachedFeatureGraph(
    featureModel,
    { weightsSha256: options.weightsSha256, exporterVersion: await featuresCodeVersion(), onnxruntimeVersion: backend.onnx.version },
    { cacheDir: options.cacheDir, log: options.log },
  );
  return {
    engine: 'onnx',
    executionProvider: backend.onnx.executionProvider,
    threads: options.threads ?? availableParallelism(),
    spec,
    batchSize: options.batchSize,
    graphFile: graph.file,
  };
}

/**
 * How the features stage spreads `threads` ONNX Runtime threads: sessions (one per worker
 * thread, each on its own share of the batches) times intra-op threads per session.
 * Chosen by `pnpm bench features` (README, "Features: pixel files in, Arrow feature files out").
 */
const SESSION_LAYOUTS: Readonly<Record<BaseName, 'one-session' | 'session-per-thread'>> = {
  inception_v3: 'one-session',
  mobilenet_v2: 'session-per-thread',
};

/** `sessions` overrides the base's layout (for benchmarks); the threads are shared out evenly. */
export function onnxSessionLayout(base: BaseName, threads = availableParallelism(), sessions?: number): { sessions: number; threadsPerSession: number } {
  const count = sessions ?? (SESSION_LAYOUTS[base] === 'one-session' ? 1 : threads);
  return { sessions: count, threadsPerSession: Math.max(1, Math.floor(threads / count)) };
}
