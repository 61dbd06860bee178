import { FlowProducer, Queue, QueueEvents } from 'bullmq';
import {
  UserError,
  acquireLock,
  acquirePartialWriterLease,
  stageKey,
  type Artifact,
  type Logger,
  type Workspace,
} from '@flowers/core';
import { cancelPending } from './cancel.ts';
import { parseQueueUrl, redisOptions, type QueueConnection } from './connection.ts';
import { MERGE_JOB, SHARD_JOB, SHARD_JOB_OPTIONS, SINGLE_JOB, STAGE_JOB_OPTIONS, type MergeJobData, type ShardJobData, type StageJobData } from './jobs.ts';
import { mergeJobId, queueName, queuePrefix, shardJobId, singleJobId } from './names.ts';
import { trackShardProgress } from './progress.ts';
import { checkRedis } from './redis_check.ts';
import { resolveInputs, specOf } from './resolve.ts';
import type { InputRef, QueueStage, ShardRange } from './stage.ts';
import { waitForJob } from './wait.ts';

export const DEFAULT_SHARD_SIZE = 256;
const DEFAULT_REDIS_TIMEOUT_MS = 60_000;

export interface SubmitOptions<P> {
  queueUrl: string;
  workspace: Workspace;
  /** The producer's own build of the stage: its code version and engine go into the jobs. */
  stage: QueueStage<P>;
  params: P;
  inputs: Record<string, InputRef>;
  /** Rows per shard job; the stage rounds it to keep a local run's batches. */
  shardSize?: number;
  log: Logger;
  /** Aborted (Ctrl-C): the stage's queued jobs are removed and the call throws InterruptedError. */
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
  progressStream?: NodeJS.WriteStream;
  /** How long Redis may stay silent (a restart) before the producer gives up in one line. */
  redisTimeoutMs?: number;
}

/**
 * Runs a stage on the queue's workers and returns its artifact, leased to this process like
 * runStage's. Under the key's lock it reuses a finished artifact, joins a flow another producer
 * queued (same job ids), or queues one; it then waits without the lock, which the merge job takes.
 */
export async function submitStage<P>(options: SubmitOptions<P>): Promise<Artifact> {
  const { workspace, stage, log } = options;
  const connection = parseQueueUrl(options.queueUrl, options.env);
  await checkRedis(connection, log);
  const spec = specOf({ stage: stage.stage, codeVersion: stage.codeVersion, params: options.params, inputs: options.inputs });
  const key = stageKey(spec);
  const what = `${stage.stage} ${key}`;
  const cached = await leaseFinished(options, key, 'cached');
  if (cached) return cached;
  const data: StageJobData = { stage: stage.stage, key, params: options.params, inputs: options.inputs, codeVersion: stage.codeVersion, engine: stage.engine };
  const bullOptions = { connection: redisOptions(connection), prefix: queuePrefix(workspace.root) };
  const queue = new Queue(queueName(stage.stage), bullOptions);
  const events = new QueueEvents(queueName(stage.stage), bullOptions);
  // Keeps gc off the partial directory between two shard jobs while this producer waits.
  const writerLease = await acquirePartialWriterLease(workspace, stage.stage, key);
  try {
    const shards = stage.kind === 'sharded' ? await stage.planShards(options.params, await resolveInputs(workspace, options.inputs), options.shardSize ?? DEFAULT_SHARD_SIZE) : [];
    const jobId = stage.kind === 'sharded' ? mergeJobId(key) : singleJobId(key);
    const childIds = new Map(shards.map((range) => [shardJobId(key, range.index), `shard ${range.index} (rows ${range.start}-${range.end})`]));
    const lock = await acquireLock(workspace.lockDir(stage.stage, key), { log, what });
    try {
      // Another producer may have finished it while this one connected.
      if (await workspace.findArtifact(stage.stage, key)) return (await leaseFinished(options, key, 'cached'))!;
      await enqueue(queue, connection, bullOptions, stage, data, shards, jobId, options.shardSize ?? DEFAULT_SHARD_SIZE, log, what);
    } finally {
      await lock.release();
    }
    await events.waitUntilReady();
    const progress = shards.length ? trackShardProgress(events, `${stage.stage} (queue)`, new Map(shards.map((r) => [shardJobId(key, r.index), r])), options.progressStream) : undefined;
    try {
      await waitForJob({
        queue,
        jobId,
        childIds,
        what,
        redisName: connection.redacted,
        signal: options.signal,
        redisTimeoutMs: options.redisTimeoutMs ?? DEFAULT_REDIS_TIMEOUT_MS,
      });
    } catch (error) {
      if (options.signal?.aborted) await cancelPending(queue, jobId, childIds, what, log);
      throw error;
    } finally {
      progress?.stop();
    }
    const artifact = await leaseFinished(options, key, 'done');
    if (!artifact) throw new UserError(`${what}: its job left the queue without an artifact in ${workspace.root} (Redis lost it, or the workdir is not shared); rerun`);
    return artifact;
  } finally {
    await writerLease.release();
    await Promise.all([events.close(), queue.close()]);
  }
}

/** The finished artifact, leased under the key's lock (as gc requires), or undefined. */
async function leaseFinished(options: SubmitOptions<unknown>, key: string, how: 'cached' | 'done'): Promise<Artifact | undefined> {
  const { workspace, stage, log } = options;
  const lock = await acquireLock(workspace.lockDir(stage.stage, key), { log, what: `${stage.stage} ${key}` });
  try {
    const artifact = await workspace.findArtifact(stage.stage, key);
    if (!artifact) return undefined;
    await workspace.leaseArtifact(stage.stage, key);
    log.info(`${how} ${stage.stage} ${key}`);
    return { ...artifact, cached: how === 'cached' };
  } finally {
    await lock.release();
  }
}

/**
 * Queues the stage's jobs unless another producer already did: adding a flow again would
 * duplicate the children of a parent that exists. A failed flow is removed and queued anew.
 */
async function enqueue(
  queue: Queue,
  connection: QueueConnection,
  bullOptions: { connection: ReturnType<typeof redisOptions>; prefix: string },
  stage: QueueStage<unknown>,
  data: StageJobData,
  shards: ShardRange[],
  jobId: string,
  shardSize: number,
  log: Logger,
  what: string,
): Promise<void> {
  const state = await queue.getJobState(jobId);
  // A finished job whose artifact is gone (gc) is no reason to skip the work.
  if (state === 'failed' || state === 'completed') await (await queue.getJob(jobId))?.remove();
  else if (state !== 'unknown') {
    log.info(`${what}: already queued (by another producer, or an earlier run); waiting for it`);
    return;
  }
  if (stage.kind === 'single') {
    await queue.add(SINGLE_JOB, data, { ...STAGE_JOB_OPTIONS, jobId });
    log.info(`${what}: queued on ${connection.redacted}`);
    return;
  }
  const flows = new FlowProducer(bullOptions);
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
  log.info(`${what}: queued ${shards.length} shards on ${connection.redacted}`);
}
