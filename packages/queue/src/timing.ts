/**
 * How fast BullMQ notices a lost worker: a job's lock lasts `lockDurationMs` unless its worker
 * renews it, and every `stalledIntervalMs` workers move jobs with lapsed locks back to waiting.
 * Tests shorten both; the defaults are BullMQ's.
 */
export interface QueueTiming {
  lockDurationMs: number;
  stalledIntervalMs: number;
}

export const DEFAULT_TIMING: QueueTiming = { lockDurationMs: 30_000, stalledIntervalMs: 30_000 };
