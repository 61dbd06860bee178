import type { Queue, QueueEvents } from 'bullmq';
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
  /** The queue's events: the top job completing or failing ends the poll's sleep at once. */
  events?: QueueEvents;
  pollMs?: number;
}

/**
 * Waits for a stage's top job to leave the queue: done (completed, or already removed on
 * completion; the caller checks the artifact), or failed for good (one JobFailedError line naming why).
 * It polls, since events published while Redis restarts are lost, and an event about the job
 * cuts the poll's sleep short, so the stage's end is seen at once.
 */
export async function waitForJob(options: WaitOptions): Promise<void> {
  const { queue, jobId, what, events } = options;
  const ask = <T>(request: Promise<T>): Promise<T> => withTimeout(request, options.redisTimeoutMs, options);
  // A new nap each poll, begun before the job's state is read: an event that arrives in between still ends it.
  let nap = new AbortController();
  const onEvent = (event: { jobId: string }): void => {
    if (event.jobId === jobId) nap.abort();
  };
  events?.on('completed', onEvent);
  events?.on('failed', onEvent);
  try {
    for (;;) {
      if (options.signal?.aborted) throw new InterruptedError(`${what} stopped waiting for the queue`);
      nap = new AbortController();
      const state = await ask(queue.getJobState(jobId));
      if (state === 'completed' || state === 'unknown') return;
      if (state === 'failed') throw new JobFailedError(`${what} failed on the queue: ${await ask(failureReason(queue, jobId, options.childIds))}`);
      await sleep(options.pollMs ?? 300, options.signal === undefined ? [nap.signal] : [options.signal, nap.signal]);
    }
  } finally {
    events?.off('completed', onEvent);
    events?.off('failed', onEvent);
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

/** Resolves after `ms`, or as soon as any of `signals` is aborted (at once if one already is). */
function sleep(ms: number, signals: AbortSignal[]): Promise<void> {
  return new Promise((resolve) => {
    if (signals.some((signal) => signal.aborted)) return resolve();
    const timer = setTimeout(done, ms);
    for (const signal of signals) signal.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      for (const signal of signals) signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
