import { UserError, stageKey, type StageExecutor } from '@flowers/core';
import type { InputRef } from '@flowers/queue';

export interface QueueExecutorOptions {
  /** `--queue`: the Redis the workers serve. */
  queueUrl: string;
  /** `--shard-size`: rows per shard job (the queue's default when undefined). */
  shardSize?: number;
}

/**
 * `--queue`: each stage the planner decided to build goes to the queue's workers as shard jobs
 * (or one job), under the planner's key; the artifact lands in the shared workdir as a local run
 * would write it, leased to this process.
 */
export function queueExecutor(options: QueueExecutorOptions): StageExecutor {
  return async ({ workspace, step, spec, inputs, env, replace }) => {
    const { stage, params } = step;
    // The queue reuses a finished artifact under its key; replacing one is a local decision.
    if (replace && (await workspace.findArtifact(stage.name, stageKey(spec)))) {
      throw new UserError(`${stage.name}: its artifact is to be built again (--force, damaged or stale), which --queue does not do: run this once without --queue, or remove it with gc`);
    }
    const { queueStageOf, submitStage } = await import('@flowers/queue');
    const refs: Record<string, InputRef> = Object.fromEntries(Object.entries(inputs).map(([name, artifact]) => [name, { stage: artifact.manifest.stage, key: artifact.manifest.key }]));
    return submitStage({
      queueUrl: options.queueUrl,
      workspace,
      stage: await queueStageOf(stage, env),
      params,
      inputs: refs,
      spec: { params: spec.params, inputs: spec.inputs, ...(spec.code ? { code: spec.code } : {}) },
      pipeline: env.pipeline,
      ...(options.shardSize === undefined ? {} : { shardSize: options.shardSize }),
      log: env.log,
      signal: env.signal,
    });
  };
}
