import { Queue, QueueEvents, Worker } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { parseQueueUrl, redisOptions } from '../src/connection.ts';
import { JobFailedError, waitForJob } from '../src/wait.ts';
import { useRedisSuite } from './fixtures.ts';

/** Longer than the test may take: a wait that ends did not end on a poll. */
const NEVER_POLLS_MS = 600_000;

describe('waitForJob', () => {
  const suite = useRedisSuite();
  let closers: Array<{ close(): Promise<void> }> = [];
  afterEach(async () => {
    await Promise.all(closers.map((c) => c.close()));
    closers = [];
  });

  /** A queue, its events and an in-process worker that answers each job after 300 ms with `outcome`. */
  async function queueWith(name: string, outcome: 'completes' | 'fails') {
    const connection = { connection: redisOptions(parseQueueUrl(suite.redis.url, {})) };
    const queue = new Queue(name, connection);
    const events = new QueueEvents(name, connection);
    const worker = new Worker(
      name,
      async () => {
        await new Promise((resolve) => setTimeout(resolve, 300));
        if (outcome === 'fails') throw new Error('the merge ran out of disk');
      },
      { ...connection, autorun: false },
    );
    closers.push(worker, events, queue);
    await events.waitUntilReady();
    return { queue, events, worker };
  }
  const waitOptions = (queue: Queue, events: QueueEvents | undefined, jobId: string) => ({
    queue,
    ...(events ? { events } : {}),
    jobId,
    childIds: new Map<string, string>(),
    what: 'toy abc',
    redisName: suite.redis.url,
    redisTimeoutMs: 10_000,
    pollMs: NEVER_POLLS_MS,
  });

  it("ends as soon as the job's completed event arrives, not at the next poll", async () => {
    const { queue, events, worker } = await queueWith('wakes', 'completes');
    await queue.add('merge', {}, { jobId: 'top', removeOnComplete: true });
    await queue.add('merge', {}, { jobId: 'other', removeOnComplete: true });
    void worker.run();
    const waited = await Promise.race([
      waitForJob(waitOptions(queue, events, 'top')).then(() => 'ended'),
      new Promise((resolve) => setTimeout(() => resolve('still waiting'), 10_000)),
    ]);
    expect(waited).toBe('ended');
    expect(await queue.getJobState('top')).toBe('unknown');
  });

  it('fails in one line as soon as the job fails, naming its reason', async () => {
    const { queue, events, worker } = await queueWith('fails', 'fails');
    await queue.add('merge', {}, { jobId: 'top' });
    void worker.run();
    const failure = await Promise.race([waitForJob(waitOptions(queue, events, 'top')).catch((error: unknown) => error), new Promise((resolve) => setTimeout(() => resolve('still waiting'), 10_000))]);
    expect(failure).toBeInstanceOf(JobFailedError);
    expect((failure as Error).message).toBe('toy abc failed on the queue: the merge ran out of disk');
  });
});
