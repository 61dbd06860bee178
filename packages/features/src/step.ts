import { UserError, type StageEnvironment, type StageResult } from '@flowers/core';
import { produceFeatures, type FeaturesStageOptions, type FeaturesStageParams } from './stage.ts';
import type { SettledWeights } from './weights/resolve.ts';

/** The features stage's params as the pipeline spec settles them: weights checked, engine chosen. */
export interface FeaturesStepParams extends FeaturesStageParams {
  weights: SettledWeights;
  /** SHA-256 of the weights themselves (see checkWeights). */
  weightsSha256: string;
  /** The engine ('onnx-cpu', 'wasm', ...): different engines give slightly different floats. */
  engine: string;
}

/** produceFeatures for a pipeline step, on the process's engine, which must be the step's: all batches, or a shard's. */
export function produceFeaturesStep(dir: string, augmentDir: string, params: FeaturesStepParams, env: StageEnvironment, batches?: FeaturesStageOptions['batches']): Promise<StageResult> {
  const { backend } = env;
  if (backend?.name !== params.engine) throw new UserError(`features: these features are for the ${params.engine} engine, but this process runs ${backend?.name ?? 'none'}`);
  const { weightsSha256: _digest, engine: _engine, ...stageParams } = params;
  return produceFeatures(dir, augmentDir, stageParams, {
    workers: env.workers,
    ...(env.threads === undefined ? {} : { threads: env.threads }),
    backend,
    log: env.log,
    ...(batches ? { batches } : {}),
  });
}
