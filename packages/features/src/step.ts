import { UserError, type StageEnvironment, type StageResult } from '@flowers/core';
import type { FeaturesStepParams } from './definition.ts';
import { produceFeatures, type FeaturesStageOptions } from './stage.ts';

/** produceFeatures for a pipeline step, on the process's engine, which must be the step's: all batches, or a shard's range. */
export function produceFeaturesStep(
  dir: string,
  augmentDir: string,
  params: FeaturesStepParams,
  env: StageEnvironment,
  shard?: Pick<FeaturesStageOptions, 'batches' | 'onBatches'>,
): Promise<StageResult> {
  const { backend } = env;
  if (backend?.name !== params.engine) throw new UserError(`features: these features are for the ${params.engine} engine, but this process runs ${backend?.name ?? 'none'}`);
  const { weightsSha256: _digest, engine: _engine, ...stageParams } = params;
  return produceFeatures(dir, augmentDir, stageParams, {
    workers: env.workers,
    ...(env.threads === undefined ? {} : { threads: env.threads }),
    ...(env.onnxSessions === undefined ? {} : { onnxSessions: env.onnxSessions }),
    backend,
    log: env.log,
    ...(env.warm ? { keepWarm: true } : {}),
    ...shard,
  });
}
