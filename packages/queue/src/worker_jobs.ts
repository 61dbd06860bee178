import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { UnrecoverableError, type Job } from 'bullmq';
import {
  UserError,
  Workspace,
  acquireLock,
  acquirePartialWriterLease,
  commitArtifactDir,
  describeShard,
  runStage,
  type Logger,
} from '@flowers/core';
import type { MergeJobData, ShardJobData, ShardJobResult, StageJobData } from './jobs.ts';
import { checkKey, refuseMismatch, resolveArtifacts, resolveInputs } from './resolve.ts';
import { shardDone, shardOutputDir, writeShardAtomically } from './shard_output.ts';
import type { QueueStage, ShardedStage, SingleJobStage } from './stage.ts';

/** What a job reports to the worker's log: the stage, the key and, for a shard, its range. */
export function describeJob(job: Job<StageJobData>): string {
  const data = job.data as Partial<ShardJobData> & StageJobData;
  const what = data.range ? describeShard(data.range) : job.name;
  return `${data.stage} ${what} of ${data.key}`;
}

/** Runs one job of a served stage; a UserError (bad input, wrong version) is not worth retrying. */
export async function processJob(job: Job<StageJobData>, stage: QueueStage, workdir: string, log: Logger, signal: AbortSignal): Promise<unknown> {
  refuseMismatch(job.data, stage);
  checkKey(job.data);
  // Each job leases its own inputs, released when it ends; a long-running worker keeps none.
  const workspace = new Workspace(workdir);
  try {
    if (stage.kind === 'single') return await processSingle(job, stage, workspace, log, signal);
    if (job.name === 'merge') return await processMerge(job as Job<MergeJobData>, stage, workspace, log);
    return await processShard(job as Job<ShardJobData>, stage, workspace, log, signal);
  } catch (error) {
    if (error instanceof UserError) throw new UnrecoverableError(error.message);
    throw error;
  } finally {
    await workspace.releaseReaderLeases();
  }
}

async function processShard(job: Job<ShardJobData>, stage: ShardedStage, workspace: Workspace, log: Logger, signal: AbortSignal): Promise<ShardJobResult> {
  const { key, range } = job.data;
  const started = performance.now();
  // Keeps gc off the partial directory while this shard is written into it.
  const lease = await acquirePartialWriterLease(workspace, stage.stage, key);
  try {
    const partial = workspace.partialDir(stage.stage, key);
    // Another attempt (a worker that was thought dead) or an earlier submission finished it.
    const done = (await workspace.findArtifact(stage.stage, key)) || (await shardDone(partial, range.index));
    if (!done) {
      const inputs = await resolveInputs(workspace, job.data.inputs);
      await writeShardAtomically(partial, range.index, (shardDir) =>
        stage.produceShard({
          shardDir,
          params: job.data.params,
          inputs,
          keyInputs: checkKey(job.data).inputs,
          range,
          log,
          signal,
          reportRows: (rows) => void job.updateProgress(rows).catch(() => undefined),
        }),
      );
    }
    return { index: range.index, seconds: (performance.now() - started) / 1000 };
  } finally {
    await lease.release();
  }
}

/**
 * Merges the shards in order under the key's lock (as runStage would hold it), then commits the
 * merged directory as the artifact with core's manifest step.
 */
async function processMerge(job: Job<MergeJobData>, stage: ShardedStage, workspace: Workspace, log: Logger): Promise<void> {
  const { key, shardCount, shardSize } = job.data;
  const spec = checkKey(job.data);
  const lock = await acquireLock(workspace.lockDir(stage.stage, key), { log, what: `${stage.stage} ${key}` });
  try {
    if (await workspace.findArtifact(stage.stage, key)) return;
    const started = performance.now();
    const partial = workspace.partialDir(stage.stage, key);
    const shardDirs: string[] = [];
    for (let index = 0; index < shardCount; index++) {
      if (!(await shardDone(partial, index))) {
        throw new UnrecoverableError(`${stage.stage} ${key}: shard ${index} is missing from ${partial} (its job was cancelled, or the directory was removed); rerun the stage`);
      }
      shardDirs.push(shardOutputDir(partial, index));
    }
    const inputs = await resolveInputs(workspace, job.data.inputs);
    const merged = path.join(partial, 'merged');
    await rm(merged, { recursive: true, force: true });
    await mkdir(merged);
    const result = await stage.merge({ dir: merged, shardDirs, params: job.data.params, inputs, keyInputs: spec.inputs, log });
    const shardSeconds = Object.values(await job.getChildrenValues<ShardJobResult>()).reduce((sum, r) => sum + r.seconds, 0);
    await commitArtifactDir(
      workspace,
      spec,
      merged,
      {
        ...result,
        timings: { ...result.timings, shards_s: Math.round(shardSeconds * 1000) / 1000 },
        extra: { ...result.extra, queue: { shards: shardCount, shardSize } },
      },
      started,
    );
    await rm(partial, { recursive: true, force: true });
  } finally {
    await lock.release();
  }
}

async function processSingle(job: Job<StageJobData>, stage: SingleJobStage, workspace: Workspace, log: Logger, signal: AbortSignal): Promise<void> {
  const { dirs, artifacts } = await resolveArtifacts(workspace, job.data.inputs);
  const spec = checkKey(job.data);
  const { pipeline } = job.data;
  await runStage(workspace, spec, ({ dir }) => stage.produce({ dir, params: job.data.params, inputs: dirs, artifacts, spec, ...(pipeline === undefined ? {} : { pipeline }), log, signal }), { log });
}
