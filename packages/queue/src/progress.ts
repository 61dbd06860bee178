import type { QueueEvents } from 'bullmq';
import { startProgress } from '@flowers/core';
import type { ShardRange } from './stage.ts';

/**
 * One bar for a stage's rows across all workers: shards report rows done as job progress, and a
 * completed shard counts whole. A retried shard starting over never moves the bar back.
 */
export function trackShardProgress(events: QueueEvents, label: string, shards: Map<string, ShardRange>, stream?: NodeJS.WriteStream): { stop(succeeded: boolean): void } {
  const total = [...shards.values()].reduce((sum, r) => sum + (r.end - r.start), 0);
  const bar = startProgress(label, total, [...shards.values()][0]?.unit ?? 'rows', stream);
  const counted = new Map<string, number>();
  const advance = (jobId: string, rows: number): void => {
    const range = shards.get(jobId);
    if (!range) return;
    const capped = Math.min(rows, range.end - range.start);
    const before = counted.get(jobId) ?? 0;
    if (capped <= before) return;
    counted.set(jobId, capped);
    bar.tick(capped - before);
  };
  const onProgress = ({ jobId, data }: { jobId: string; data: unknown }): void => {
    if (typeof data === 'number') advance(jobId, data);
  };
  const onCompleted = ({ jobId }: { jobId: string }): void => {
    const range = shards.get(jobId);
    if (range) advance(jobId, range.end - range.start);
  };
  events.on('progress', onProgress);
  events.on('completed', onCompleted);
  return {
    stop(succeeded) {
      events.off('progress', onProgress);
      events.off('completed', onCompleted);
      // Events sent before this producer joined, or while Redis restarted, never arrived.
      if (succeeded) {
        for (const [jobId, range] of shards) advance(jobId, range.end - range.start);
        bar.done();
      } else if (stream?.isTTY ?? process.stderr.isTTY) {
        // Ends the bar's line, so the failure gets one of its own.
        (stream ?? process.stderr).write('\n');
      }
    },
  };
}
