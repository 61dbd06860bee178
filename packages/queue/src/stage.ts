import type { Logger, StageResult } from '@flowers/core';

/** Rows `[start, end)` of a stage's input: one shard job. */
export interface ShardRange {
  index: number;
  start: number;
  end: number;
}

/**
 * What a job reads: an upstream artifact (resolved in each worker's own workdir, which may be
 * mounted elsewhere) or raw data at a path every machine sees the same. `key` goes into the
 * artifact key: the upstream key, or the raw data's fingerprint.
 */
export type InputRef = { stage: string; key: string } | { path: string; key: string };

/** A stage's inputs as directories, resolved on the machine that runs the job. */
export type InputDirs = Record<string, string>;

/** What every stage served over the queue declares, so that a worker refuses jobs it would do differently. */
export interface QueueStageIdentity {
  stage: string;
  codeVersion: string;
  /** The engine it computes with (e.g. `onnx-cpu`): another engine's output is not byte-identical. */
  engine: string;
}

export interface ShardContext<P> {
  /** Empty; becomes the shard's output only once produceShard returns. */
  shardDir: string;
  params: P;
  inputs: InputDirs;
  range: ShardRange;
  log: Logger;
  /** Aborted when the worker must stop at once: stop at the next batch by throwing. */
  signal: AbortSignal;
  /** Rows of this shard done so far, for the producer's progress bar. */
  reportRows(done: number): void;
}

export interface MergeContext<P> {
  /** Empty; the merged files written here become the artifact. */
  dir: string;
  /** Every shard's output directory, in shard order. */
  shardDirs: string[];
  params: P;
  inputs: InputDirs;
  log: Logger;
}

/** An embarrassingly parallel stage: ranges of rows produced by any workers, merged in order. */
export interface ShardedStage<P = unknown> extends QueueStageIdentity {
  kind: 'sharded';
  /** Splits the input into ranges; sized so that shards keep a local run's batch composition. */
  planShards(params: P, inputs: InputDirs, shardSize: number): Promise<ShardRange[]>;
  produceShard(context: ShardContext<P>): Promise<void>;
  merge(context: MergeContext<P>): Promise<StageResult>;
}

export interface SingleJobContext<P> {
  dir: string;
  params: P;
  inputs: InputDirs;
  log: Logger;
  signal: AbortSignal;
}

/** A stage that runs as one job (train) on whichever worker serving it takes it. */
export interface SingleJobStage<P = unknown> extends QueueStageIdentity {
  kind: 'single';
  produce(context: SingleJobContext<P>): Promise<StageResult>;
}

export type QueueStage<P = unknown> = ShardedStage<P> | SingleJobStage<P>;
