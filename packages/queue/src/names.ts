import path from 'node:path';
import { sha256Hex } from '@flowers/core';

/**
 * The Redis key prefix of a workdir's queues: workdirs sharing one Redis never see each other's
 * jobs. Every machine must resolve the shared workdir to the same path for its jobs to meet.
 */
export function queuePrefix(workdir: string): string {
  return `flowers-${sha256Hex(path.resolve(workdir)).slice(0, 12)}`;
}

/** One queue per stage, so a worker serves only the stages it was asked to. */
export function queueName(stage: string): string {
  return stage;
}

// Job ids derive from the artifact key, so a resubmitted stage or shard is the same job.
// BullMQ reserves ':' in custom ids and integer-like ids.
export const shardJobId = (key: string, index: number): string => `${key}-shard-${index}`;
export const mergeJobId = (key: string): string => `${key}-merge`;
export const singleJobId = (key: string): string => `${key}-single`;
