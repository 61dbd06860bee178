import type { JobsOptions } from 'bullmq';
import type { StageSpec } from '@flowers/core';
import type { InputRef, ShardRange } from './stage.ts';

/** BullMQ job names: what a worker does with a job of a stage's queue. */
export const SHARD_JOB = 'shard';
export const MERGE_JOB = 'merge';
export const SINGLE_JOB = 'single';

/**
 * What every job carries: enough to recompute the artifact key and resolve the inputs, never
 * the data itself (files are read from the shared workdir).
 */
export interface StageJobData {
  stage: string;
  key: string;
  params: unknown;
  inputs: Record<string, InputRef>;
  codeVersion: string;
  engine: string;
  /** What the key hashes when it is not the params and the inputs' keys as they are (the planner's spec). */
  keyParams?: unknown;
  keyInputs?: Record<string, string>;
  /** What the code version is made of, for the manifest (see CodeVersion). */
  code?: StageSpec['code'];
  /** The pipeline (experiment) the producer runs it for, recorded in what some stages write. */
  pipeline?: string;
}

export interface ShardJobData extends StageJobData {
  range: ShardRange;
}

export interface MergeJobData extends StageJobData {
  shardCount: number;
  shardSize: number;
}

/** What a finished shard tells its parent. */
export interface ShardJobResult {
  index: number;
  seconds: number;
}

/** Retries with backoff ride out a flaky disk or a lost worker; completed jobs go, so done work is judged by the files. */
export const SHARD_JOB_OPTIONS: JobsOptions = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 1_000 },
  removeOnComplete: true,
  // A shard failing for good fails its stage: the producer reports it instead of waiting forever.
  failParentOnFailure: true,
};

export const STAGE_JOB_OPTIONS: JobsOptions = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 1_000 },
  removeOnComplete: true,
};
