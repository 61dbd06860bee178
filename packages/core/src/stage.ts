import type { Artifact, StageContext, StageResult } from './artifacts.ts';
import type { SelectedBackend } from './backend.ts';
import type { Logger } from './log.ts';

/** What a stage runs with besides its params and inputs: this process's resources. */
export interface StageEnvironment {
  /** Worker threads for decoding and inference pools. */
  workers: number;
  /** ONNX Runtime threads in all; undefined: one per core. */
  threads?: number;
  /** ONNX Runtime sessions for a base, overriding its tuned layout (for measuring layouts). */
  onnxSessions?: number;
  /** The engine the pipeline settled on; set for pipelines with stages that run models. */
  backend?: SelectedBackend;
  log: Logger;
  /** Aborted on Ctrl-C: the stage stops at its next safe point. */
  signal: AbortSignal;
  /** The pipeline (experiment) this stage runs for, recorded in what it writes for people. */
  pipeline: string;
  /**
   * Set in a long-lived process that runs many jobs (a queue worker): a stage may keep what is
   * slow to make (a loaded model, its worker pool) from one job to the next, and frees it in
   * its `release`.
   */
  warm?: boolean;
}

/** One run of a stage's producer. */
export interface StageRun<P> extends StageContext {
  params: P;
  /** Upstream stage name -> its artifact, for each stage it reads. */
  inputs: Readonly<Record<string, Artifact>>;
  /** What keyInputs gave for this run's key, so the producer can check it still holds. */
  keyInputs: Readonly<Record<string, string>>;
  env: StageEnvironment;
  /** Set when the user asked to continue an interrupted attempt that is not there to continue. */
  resumeRequested: boolean;
}

/**
 * A pipeline stage, described as data and one function: what it reads and writes, the code
 * that computes it, and how. `all`, the single-stage commands, the benchmarks and the queue
 * workers run stages through this interface alone.
 */
export interface Stage<P> {
  readonly name: string;
  /** The workspace package that holds the stage's code: its code version covers it and what it imports. */
  readonly package: string;
  /** Upstream stages whose artifacts it reads, for these params (train reads pixels or features). */
  reads(params: P): readonly string[];
  /** The files it writes into its artifact (contracts named in core). */
  readonly writes: readonly string[];
  /** Versions of the libraries that compute its outputs, part of its code version. */
  libraries(): Promise<Record<string, string>>;
  /**
   * What the cache key depends on besides params and code: upstream keys, and anything else its
   * outputs depend on (the dataset's fingerprint, the split's checksum).
   */
  keyInputs(params: P, inputs: Readonly<Record<string, Artifact>>): Promise<Record<string, string>>;
  /** The params as the cache key sees them (default: all of them), without what does not change the outputs. */
  keyParams?(params: P): unknown;
  /** Why a complete, cached artifact must still be rebuilt (ingest: files it could not read last time). */
  rebuildReason?(artifact: Artifact): string | undefined;
  /** Whether an interrupted attempt's files can be continued from (`--resume`). */
  readonly resumable?: boolean;
  /**
   * The engine this process computes these params on (e.g. `onnx-cpu`), for a queue worker to
   * refuse jobs another engine would compute differently (default: `cpu`, for stages whose numbers
   * no engine choice changes).
   */
  engine?(params: P, env: StageEnvironment): string;
  /** How the stage splits into shard jobs on the queue; a stage without it runs as one job. */
  readonly shards?: StageShards<P>;
  produce(run: StageRun<P>): Promise<StageResult>;
  /** Frees what the stage kept from one job to the next (see StageEnvironment.warm). */
  release?(): Promise<void>;
}

/** Rows `[start, end)` of a stage's input (in the unit the stage's shards count): one shard job. */
export interface ShardRange {
  index: number;
  start: number;
  end: number;
  /** What start and end count, for logs and the progress bar (default: rows). */
  unit?: string;
}

/** A shard as logs name it: `shard 3 (rows 768-1024)`. */
export function describeShard(range: ShardRange): string {
  return `shard ${range.index} (${range.unit ?? 'rows'} ${range.start}-${range.end})`;
}

/** What every shard step runs with: its params, its inputs' directories and their keys. */
export interface ShardJob<P> {
  params: P;
  /** Upstream stage (or raw input) name -> its directory on this machine. */
  inputs: Readonly<Record<string, string>>;
  /** Input name -> the key (or fingerprint) the job's artifact key was computed from. */
  keyInputs: Readonly<Record<string, string>>;
  env: StageEnvironment;
}

/**
 * An embarrassingly parallel stage, split into ranges of its input that any machine can produce,
 * then merged in order into files equal, byte for byte, to what `produce` writes in one process.
 */
export interface StageShards<P> {
  /** Rows per shard when the user sets none: large enough that a shard's start-up is a small share of it. */
  readonly defaultSize?: number;
  /** Splits the input into ranges of about `shardSize` rows, keeping a local run's batch composition. */
  plan(job: ShardJob<P>, shardSize: number): Promise<ShardRange[]>;
  /** Writes one range's outputs into `dir`; `reportRows` says how much of the range is done. */
  produce(job: ShardJob<P> & { dir: string; range: ShardRange; reportRows(done: number): void }): Promise<void>;
  /** Writes the artifact's files into `dir` from every shard's directory, in shard order. */
  merge(job: ShardJob<P> & { dir: string; shardDirs: readonly string[] }): Promise<StageResult>;
}
