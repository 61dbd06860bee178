import type { Artifact, Logger, ShardRange, StageResult, StageSpec } from '@flowers/core';

export type { ShardRange };

/**
 * What a job reads: an upstream artifact (resolved in each worker's own workdir, which may be
 * mounted elsewhere) or raw data at a path every machine sees the same. `key` goes into the
 * artifact key: the upstream key, or the raw data's fingerprint.
 */
export type InputRef = { stage: string; key: string } | { path: string; key: string };

/** A stage's inputs as directories, resolved on the machine that runs the job. */
export type InputDirs = Record<string, string>;

/** What every stage served over the queue declares, so that a worker refuses jobs it would do differently. */
export interface QueueStageIdentity<P = unknown> {
  stage: string;
  codeVersion: string;
  /** The engine this process computes these params with (e.g. `onnx-cpu`): another engine's output is not byte-identical. */
  engine(params: P): string;
}

export interface ShardContext<P> {
  /** Empty; becomes the shard's output only once produceShard returns. */
  shardDir: string;
  params: P;
  inputs: InputDirs;
  /** What the artifact key was computed from besides the params: input name -> key (or fingerprint). */
  keyInputs: Record<string, string>;
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
  keyInputs: Record<string, string>;
  log: Logger;
}

/** An embarrassingly parallel stage: ranges of rows produced by any workers, merged in order. */
export interface ShardedStage<P = unknown> extends QueueStageIdentity<P> {
  kind: 'sharded';
  /** Rows per shard without --shard-size (default: DEFAULT_SHARD_SIZE). */
  defaultShardSize?: number;
  /** Splits the input into ranges; sized so that shards keep a local run's batch composition. */
  planShards(params: P, inputs: InputDirs, shardSize: number, keyInputs: Record<string, string>): Promise<ShardRange[]>;
  produceShard(context: ShardContext<P>): Promise<void>;
  merge(context: MergeContext<P>): Promise<StageResult>;
}

export interface SingleJobContext<P> {
  dir: string;
  params: P;
  inputs: InputDirs;
  /** The upstream artifacts, with their manifests (raw inputs have none). */
  artifacts: Record<string, Artifact>;
  /** The spec the job's key was computed from. */
  spec: StageSpec;
  /** The pipeline (experiment) the producer runs it for. */
  pipeline?: string;
  log: Logger;
  signal: AbortSignal;
}

/** A stage that runs as one job (train) on whichever worker serving it takes it. */
export interface SingleJobStage<P = unknown> extends QueueStageIdentity<P> {
  kind: 'single';
  produce(context: SingleJobContext<P>): Promise<StageResult>;
}

export type QueueStage<P = unknown> = ShardedStage<P> | SingleJobStage<P>;
