import { Queue, QueueEvents } from 'bullmq';
import { UserError, acquireLock, describeShard, isArtifact, acquirePartialWriterLease, stageKey, type Artifact, type Logger, type StageSpec, type Workspace } from '@flowers/core';
import { cancelPending } from './cancel.ts';
import { parseQueueUrl, redisOptions } from './connection.ts';
import { reportConnectionErrors } from './connection_errors.ts';
import { enqueue, type Submission } from './enqueue.ts';
import { mergeJobId, queueName, queuePrefix, shardJobId, singleJobId } from './names.ts';
import { trackShardProgress } from './progress.ts';
import { checkRedis } from './redis_check.ts';
import { resolveInputs, specOf } from './resolve.ts';
import type { StageJobData } from './jobs.ts';
import type { InputRef, QueueStage } from './stage.ts';
import { JobFailedError, waitForJob, type WaitOptions } from './wait.ts';
import { DEFAULT_SHARD_SIZE } from './defaults.ts';

const DEFAULT_REDIS_TIMEOUT_MS = 60_000;

export interface SubmitOptions<P> {
  queueUrl: string;
  workspace: Workspace;
  /** The producer's own build of the stage: its code version and engine go into the jobs. */
  stage: QueueStage<P>;
  params: P;
  inputs: Record<string, InputRef>;
  /** The planner's spec, when its params and inputs are not the key's as they are (see StageJobData.keyParams). */
  spec?: Pick<StageSpec, 'params' | 'inputs' | 'code'>;
  /** The pipeline (experiment) it runs for, passed to the job. */
  pipeline?: string;
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
 * runStage's. Under the key's lock it reuses a finished artifact, joins the jobs another producer
 * queued (same job ids), or queues them; it then waits without the lock, which the merge job takes.
 */
export async function submitStage<P>(options: SubmitOptions<P>): Promise<Artifact> {
  const { workspace, stage, log } = options;
  const connection = parseQueueUrl(options.queueUrl, options.env);
  await checkRedis(connection, log);
  const data: Omit<StageJobData, 'key'> = {
    stage: stage.stage,
    params: options.params,
    inputs: options.inputs,
    codeVersion: stage.codeVersion,
    engine: stage.engine(options.params),
    ...(options.spec ? { keyParams: options.spec.params, keyInputs: options.spec.inputs, ...(options.spec.code ? { code: options.spec.code } : {}) } : {}),
    ...(options.pipeline === undefined ? {} : { pipeline: options.pipeline }),
  };
  const key = stageKey(specOf(data));
  const what = `${stage.stage} ${key}`;
  const underLock = async <T>(work: () => Promise<T>): Promise<T> => {
    const lock = await acquireLock(workspace.lockDir(stage.stage, key), { log, what });
    try {
      return await work();
    } finally {
      await lock.release();
    }
  };
  const cached = await underLock(() => leaseFinished(workspace, stage.stage, key, 'cached', log));
  if (cached) return cached;

  const bullOptions = { connection: redisOptions(connection), prefix: queuePrefix(workspace.root) };
  const queue = new Queue(queueName(stage.stage), bullOptions);
  const events = new QueueEvents(queueName(stage.stage), bullOptions);
  const reportError = reportConnectionErrors(log);
  queue.on('error', reportError);
  events.on('error', reportError);
  // Keeps gc off the partial directory between two shard jobs while this producer waits (a
  // single job writes under runStage's lock instead).
  const writerLease = stage.kind === 'sharded' ? await acquirePartialWriterLease(workspace, stage.stage, key) : undefined;
  try {
    const shardSize = options.shardSize ?? (stage.kind === 'sharded' ? stage.defaultShardSize : undefined) ?? DEFAULT_SHARD_SIZE;
    const shards = stage.kind === 'sharded' ? await stage.planShards(options.params, await resolveInputs(workspace, options.inputs), shardSize, specOf(data).inputs) : [];
    const submission: Submission = {
      queue,
      bullOptions,
      workspace,
      kind: stage.kind,
      data: { ...data, key },
      shards,
      shardSize,
      jobId: stage.kind === 'sharded' ? mergeJobId(key) : singleJobId(key),
      redisName: connection.redacted,
      what,
      log,
    };
    const wait: WaitOptions = {
      queue,
      jobId: submission.jobId,
      childIds: new Map(shards.map((range) => [shardJobId(key, range.index), describeShard(range)])),
      what,
      redisName: connection.redacted,
      signal: options.signal,
      redisTimeoutMs: options.redisTimeoutMs ?? DEFAULT_REDIS_TIMEOUT_MS,
      events,
    };
    for (;;) {
      // Another producer may have finished it while this one connected.
      const outcome = await underLock(async () => (await leaseFinished(workspace, stage.stage, key, 'cached', log)) ?? enqueue(submission));
      if (typeof outcome === 'object') return outcome;
      if (outcome !== 'cancelled') break;
      log.info(`${what}: an earlier run was cancelled while some shards ran; queueing it anew once they finish`);
      await waitForJob(wait).catch((error: unknown) => {
        if (!(error instanceof JobFailedError)) throw error;
      });
    }
    await warnIfUnserved(queue, what, connection.redacted, workspace.root, log);
    await events.waitUntilReady();
    const progress = shards.length ? trackShardProgress(events, `${stage.stage} (queue)`, new Map(shards.map((r) => [shardJobId(key, r.index), r])), options.progressStream) : undefined;
    let succeeded = false;
    try {
      await waitForJob(wait);
      succeeded = true;
    } catch (error) {
      if (options.signal?.aborted) await cancelPending(queue, submission.jobId, wait.childIds, what, log);
      throw error;
    } finally {
      progress?.stop(succeeded);
    }
    const artifact = await underLock(() => leaseFinished(workspace, stage.stage, key, 'done', log));
    if (!artifact) throw new UserError(`${what}: its job left the queue without an artifact in ${workspace.root} (Redis lost it, or the workdir is not shared); rerun`);
    return artifact;
  } finally {
    await writerLease?.release();
    await Promise.all([events.close(), queue.close()]);
  }
}

/** A stage queued with no worker to take it would wait in silence. CLIENT LIST may be disabled (managed Redis): then nothing is said. */
async function warnIfUnserved(queue: Queue, what: string, redisName: string, workdir: string, log: Logger): Promise<void> {
  if ((await queue.getWorkersCount().catch(() => undefined)) !== 0) return;
  log.warn(`${what}: no worker serves the ${queue.name} queue yet; waiting for one (pnpm pipeline worker --queue ${redisName} --workdir ${workdir})`);
}

/** The finished artifact, leased to this process (the caller holds the key's lock, as gc requires), or undefined. */
async function leaseFinished(workspace: Workspace, stage: string, key: string, how: 'cached' | 'done', log: Logger): Promise<Artifact | undefined> {
  const artifact = await workspace.findArtifact(stage, key);
  if (!isArtifact(artifact)) return undefined;
  await workspace.leaseArtifact(stage, key);
  log.info(`${how} ${stage} ${key}`);
  return { ...artifact, cached: how === 'cached' };
}
