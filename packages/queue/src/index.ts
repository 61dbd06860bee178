export { parseQueueUrl, PASSWORD_ENV, type QueueConnection } from './connection.ts';
export { checkRedis } from './redis_check.ts';
export { queuePrefix } from './names.ts';
export { submitStage, type SubmitOptions } from './producer.ts';
export { DEFAULT_SHARD_SIZE } from './defaults.ts';
export { runWorker, type RunWorkerOptions } from './worker.ts';
export { queueStageOf } from './from_stage.ts';
export { workerStopSignal } from './stop_signal.ts';
export { DEFAULT_TIMING, type QueueTiming } from './timing.ts';
export type { StageJobData, ShardJobData, MergeJobData } from './jobs.ts';
export type {
  ShardedStage,
  SingleJobStage,
  QueueStage,
  QueueStageIdentity,
  ShardRange,
  ShardContext,
  MergeContext,
  SingleJobContext,
  InputRef,
  InputDirs,
} from './stage.ts';
