import type { Queue } from 'bullmq';
import { InterruptedError, UserError } from '@flowers/core';

/** The stage's job failed for good (after its retries), as opposed to Redis or the user stopping the wait. */
export class JobFailedError extends UserError {}

export interface WaitOptions {
  queue: Queue;
  jobId: string;
  /** Shard job id -> label, to name the shard that failed. */
  childIds: Map<string, string>;
  what: string;
  redisName: string;
  signal?: AbortSignal;
  /** Redis may be restarting; after this long without an answer the producer gives up. */
  redisTimeoutMs: number;
  pollMs?: number;
}

/**
 * Waits for a stage's top job to leave the queue: done (completed, or already removed on
 * completion; the caller checks the artifact), or failed for good (one JobFailedError line naming why).
 * Polling rather than events alone: events published while Redis restarts are lost.
 */
export async function waitForJob(options: WaitOptions): Promise<void> {
  const { queue, jobId, what } = options;
  const ask = <T>(request: Promise<T>): Promise<T> => withTimeout(request, options.redisTimeoutMs, options);
  for (;;) {
    if (options.signal?.aborted) throw new InterruptedError(`${what} stopped waiting for the queue`);
    const state = await ask(queue.getJobState(jobId));
    if (state === 'completed' || state === 'unknown') return;
    if (state === 'failed') throw new JobFailedError(`${what} failed on the queue: ${await ask(failureReason(queue, jobId, options.childIds))}`);
    await sleep(options.pollMs ?? 300, options.signal);
  }
}

async function failureReason(queue: Queue, jobId: string, childIds: Map<string, string>): Promise<string> {
  // A shard failing for good fails its parent with a generic reason; the shard's own reason says more.
  for (const [id, label] of childIds) {
    const child = await queue.getJob(id);
    if (child && (await child.getState()) === 'failed') return `${label}: ${child.failedReason} (after ${child.attemptsMade} attempts)`;
  }
  const job = await queue.getJob(jobId);
  return job?.failedReason ?? 'no reason recorded';
}

function withTimeout<T>(request: Promise<T>, ms: number, options: WaitOptions): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new UserError(`${options.what}: Redis at ${options.redisName} did not answer for ${Math.round(ms / 1000)} s; workers keep the finished shards, rerun to continue`)),
      ms,
    );
  });
  return Promise.race([request, timeout]).finally(() => clearTimeout(timer));
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });
}
