import { codeVersionOf, stageKey, type Logger, type Stage, type StageEnvironment } from '@flowers/core';
import type { QueueStage } from './stage.ts';

/** The engine of a stage whose numbers no engine choice changes (decoding, hashing). */
const NO_ENGINE = 'cpu';

/**
 * A pipeline stage as the queue runs it: its `shards` make it a sharded stage, else it is one job.
 * Its identity is this build's: the code version of its package, and the engine `env` computes
 * with. Each job runs with `env`, its own log and signal, and the producer's pipeline name.
 */
export async function queueStageOf<P>(stage: Stage<P>, env: StageEnvironment): Promise<QueueStage<P>> {
  const code = await codeVersionOf(stage.package, await stage.libraries());
  const jobEnv = (log: Logger, signal: AbortSignal, pipeline?: string): StageEnvironment => ({ ...env, log, signal, pipeline: pipeline ?? env.pipeline });
  const identity = { stage: stage.name, codeVersion: code.version, engine: (params: P) => stage.engine?.(params, env) ?? NO_ENGINE };
  const { shards } = stage;
  if (!shards) {
    return {
      kind: 'single',
      ...identity,
      produce: ({ dir, params, artifacts, spec, pipeline, log, signal }) =>
        stage.produce({ dir, key: stageKey(spec), resuming: false, params, inputs: artifacts, keyInputs: spec.inputs, env: jobEnv(log, signal, pipeline), resumeRequested: false }),
    };
  }
  return {
    kind: 'sharded',
    ...identity,
    ...(shards.defaultSize === undefined ? {} : { defaultShardSize: shards.defaultSize }),
    planShards: (params, inputs, shardSize, keyInputs) => shards.plan({ params, inputs, keyInputs, env }, shardSize),
    produceShard: ({ shardDir, params, inputs, keyInputs, range, log, signal, reportRows }) =>
      shards.produce({ dir: shardDir, params, inputs, keyInputs, env: jobEnv(log, signal), range, reportRows }),
    merge: ({ dir, shardDirs, params, inputs, keyInputs, log }) => shards.merge({ dir, shardDirs, params, inputs, keyInputs, env: jobEnv(log, env.signal) }),
  };
}
