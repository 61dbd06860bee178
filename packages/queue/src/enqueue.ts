import { FlowProducer, type Queue, type RedisOptions } from 'bullmq';
import type { Logger, Workspace } from '@flowers/core';
import { reportConnectionErrors } from './connection_errors.ts';
import { MERGE_JOB, SHARD_JOB, SHARD_JOB_OPTIONS, SINGLE_JOB, STAGE_JOB_OPTIONS, type MergeJobData, type ShardJobData, type StageJobData } from './jobs.ts';
import { shardJobId } from './names.ts';
import { shardDone } from './shard_output.ts';
import type { ShardRange } from './stage.ts';

/** One stage run's jobs, as a producer queues them. */
export interface Submission {
  queue: Queue;
  bullOptions: { connection: RedisOptions; prefix: string };
  workspace: Workspace;
  kind: 'sharded' | 'single';
  data: StageJobData;
  shards: ShardRange[];
  shardSize: number;
  /** The merge job of a sharded stage, the only job of a single-job one. */
  jobId: string;
  redisName: string;
  what: string;
  log: Logger;
}

/**
 * Queues the stage's jobs, unless they are queued already: then this producer joins them (adding
 * a flow again would duplicate the children of a parent that exists). A failed or finished top
 * job is removed and queued anew. `cancelled`: an earlier producer's Ctrl-C removed some shards
 * while others ran; its merge will fail once they finish, and the caller queues anew after that.
 */
export async function enqueue(submission: Submission): Promise<'queued' | 'joined' | 'cancelled'> {
  const { queue, jobId, log, what } = submission;
  const state = await queue.getJobState(jobId);
  // A finished job whose artifact is gone (gc) is no reason to skip the work.
  if (state === 'failed' || state === 'completed') await (await queue.getJob(jobId))?.remove();
  else if (state !== 'unknown') {
    if (submission.kind === 'sharded' && (await someShardCancelled(submission))) return 'cancelled';
    log.info(`${what}: already queued (by another producer, or an earlier run); waiting for it`);
    return 'joined';
  }
  if (submission.kind === 'single') await queue.add(SINGLE_JOB, submission.data, { ...STAGE_JOB_OPTIONS, jobId });
  else await addFlow(submission);
  log.info(`${what}: queued ${submission.kind === 'single' ? 'one job' : `${submission.shards.length} shards`} on ${submission.redisName}`);
  return 'queued';
}

/** A shard with neither a job nor a finished output: removed by a Ctrl-C. */
async function someShardCancelled({ queue, data, shards, workspace }: Submission): Promise<boolean> {
  const partial = workspace.partialDir(data.stage, data.key);
  for (const range of shards) {
    if ((await queue.getJobState(shardJobId(data.key, range.index))) !== 'unknown') continue;
    if (!(await shardDone(partial, range.index))) return true;
  }
  return false;
}

async function addFlow({ queue, bullOptions, data, shards, shardSize, jobId, log }: Submission): Promise<void> {
  const flows = new FlowProducer(bullOptions);
  flows.on('error', reportConnectionErrors(log));
  try {
    const parent: MergeJobData = { ...data, shardCount: shards.length, shardSize };
    await flows.add({
      name: MERGE_JOB,
      queueName: queue.name,
      data: parent,
      opts: { ...STAGE_JOB_OPTIONS, jobId },
      children: shards.map((range) => ({
        name: SHARD_JOB,
        queueName: queue.name,
        data: { ...data, range } satisfies ShardJobData,
        opts: { ...SHARD_JOB_OPTIONS, jobId: shardJobId(data.key, range.index) },
      })),
    });
  } finally {
    await flows.close();
  }
}
