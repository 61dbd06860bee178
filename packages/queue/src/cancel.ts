import type { Queue } from 'bullmq';
import { errorMessage, type Logger } from '@flowers/core';

const PENDING = new Set(['waiting', 'delayed', 'prioritized', 'waiting-children']);

/**
 * Ctrl-C on the producer: removes the stage's jobs that no worker has started and says which
 * running ones will finish (their outputs stay in the partial directory for the next run). A
 * parent left behind by running shards fails at its merge, naming the missing shards.
 */
export async function cancelPending(queue: Queue, parentId: string, childIds: Map<string, string>, what: string, log: Logger): Promise<void> {
  const parent = await queue.getJob(parentId);
  // Removing the parent takes its children with it, unless one of them is running (locked).
  if (parent && (await parent.remove().then(() => true, () => false))) {
    log.info(`cancelled ${what}: removed its queued jobs; none was running`);
    return;
  }
  const running: string[] = [];
  let removed = 0;
  for (const [id, label] of childIds) {
    const job = await queue.getJob(id);
    if (!job) continue;
    const state = await job.getState();
    if (PENDING.has(state)) {
      try {
        await job.remove();
        removed++;
        continue;
      } catch (error) {
        // Taken by a worker between the two calls.
        if (!/locked/.test(errorMessage(error))) throw error;
      }
    }
    if (state !== 'completed' && state !== 'failed') running.push(label);
  }
  if (!childIds.size && parent) running.push(`its ${parent.name} job`);
  const still = running.length ? `; still running, will finish: ${running.join(', ')}` : '';
  log.info(`cancelled ${what}: removed ${removed} queued jobs${still}`);
}
