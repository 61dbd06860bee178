import { hostname } from 'node:os';
import path from 'node:path';
import { Worker } from 'bullmq';
import { UserError, errorMessage, stderrLogger, type Logger } from '@flowers/core';
import { reportConnectionErrors } from './connection_errors.ts';
import { parseQueueUrl, redisOptions } from './connection.ts';
import type { StageJobData } from './jobs.ts';
import { queueName, queuePrefix } from './names.ts';
import { checkRedis } from './redis_check.ts';
import type { QueueStage } from './stage.ts';
import { DEFAULT_TIMING, type QueueTiming } from './timing.ts';
import { describeJob, processJob } from './worker_jobs.ts';

export interface RunWorkerOptions {
  queueUrl: string;
  workdir: string;
  /** Jobs run at once, per served stage. */
  concurrency?: number;
  /** The stages this worker serves (a GPU box may serve only features and train). */
  stages: string[];
  /** The stages this build can run, with their code versions and engines. */
  registry: QueueStage[];
  /** Aborted: take no more jobs, let the running ones finish, then return. */
  signal?: AbortSignal;
  log?: Logger;
  env?: NodeJS.ProcessEnv;
  timing?: QueueTiming;
  /** The caller has checked Redis (before loading an engine, say): not again, nor its warning. */
  redisChecked?: boolean;
}

/** Serves the given stages' queues until `signal` aborts; each job is logged when it starts and ends. */
export async function runWorker(options: RunWorkerOptions): Promise<void> {
  const log = options.log ?? stderrLogger;
  const connection = parseQueueUrl(options.queueUrl, options.env);
  const served = options.stages.map((name) => {
    const stage = options.registry.find((s) => s.stage === name);
    if (!stage) throw new UserError(`--stages: no stage named ${name} (this worker can serve ${options.registry.map((s) => s.stage).join(', ')})`);
    return stage;
  });
  if (!options.redisChecked) await checkRedis(connection, log);
  const workdir = path.resolve(options.workdir);
  const timing = options.timing ?? DEFAULT_TIMING;
  const reportError = reportConnectionErrors(log);
  const workers = served.map((stage) => {
    const worker = new Worker<StageJobData>(
      queueName(stage.stage),
      async (job, _token, signal) => {
        const what = describeJob(job);
        const started = performance.now();
        log.info(`started ${what} (attempt ${job.attemptsMade + 1})`);
        try {
          const result = await processJob(job, stage, workdir, log, signal ?? new AbortController().signal);
          log.info(`done ${what} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
          return result;
        } catch (error) {
          log.warn(`failed ${what}: ${errorMessage(error)}`);
          throw error;
        }
      },
      {
        connection: redisOptions(connection),
        prefix: queuePrefix(workdir),
        concurrency: options.concurrency ?? 1,
        lockDuration: timing.lockDurationMs,
        stalledInterval: timing.stalledIntervalMs,
        // A shard whose worker vanished once more is retried; one that stalls every worker fails.
        maxStalledCount: 2,
      },
    );
    worker.on('error', reportError);
    return worker;
  });
  log.info(`worker ${process.pid}@${hostname()} serving ${options.stages.join(', ')} from ${connection.redacted} (workdir ${workdir})`);
  await untilAborted(options.signal);
  log.info('stopping: taking no new jobs, finishing the running ones');
  // close() waits for active jobs; their locks are released, so nothing is left half-claimed.
  await Promise.all(workers.map((w) => w.close()));
  log.info('worker stopped');
}

function untilAborted(signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return new Promise(() => undefined);
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}
