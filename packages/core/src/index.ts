export { createRandom, seedFrom, shuffleInPlace, type Random } from './random.ts';
export { UserError, InterruptedError, errorMessage } from './errors.ts';
export { sha256Hex, sha256File, canonicalJson } from './hash.ts';
export { codeVersionOf, installedVersion, WORKSPACE_PACKAGES_DIR, type CodeVersion } from './code_version.ts';
export type { Stage, StageEnvironment, StageRun, StageShards, ShardJob, ShardRange } from './stage.ts';
export { describeShard } from './stage.ts';
export { planPipeline, runPipeline, runLocally, PIPELINE_LOCK_FILE, type StageBuild, type StageExecutor, type PipelineStep, type PlannedStage, type PlanOptions, type RunPipelineOptions } from './planner.ts';
export { writeFileAtomic, writeDirectoryAtomic, replaceDirectory, fsyncPath } from './atomic.ts';
export { acquireLock, tryAcquireLock, acquireReaderLease, liveReaders, clearStaleLock, type Lock, type LockWait } from './lock.ts';
export { stderrLogger, memoryLogger, startProgress, type Logger, type Progress } from './log.ts';
export { ensureFreeSpace, formatBytes } from './disk.ts';
export {
  Workspace,
  runStage,
  isArtifact,
  stageKey,
  MANIFEST_FILE,
  type Artifact,
  type ArtifactManifest,
  type OutputFile,
  type StageSpec,
  type StageResult,
  type StageContext,
  type RunStageOptions,
  type RemovalLock,
} from './artifacts.ts';
export { commitArtifactDir, acquirePartialWriterLease, livePartialWriters, partialWritersRoot } from './partial.ts';
export { commitRun, readRun, listRuns, runDir, defaultRunName, validateRunName, RUN_FILE, type RunRecord } from './runs.ts';
export { runInterruptibly } from './interrupt.ts';
export { KeptWarm } from './kept_warm.ts';
export { createPool, mapOrdered, defaultWorkerCount, releaseWarmPools, withPool, Piscina, type PoolOptions } from './pool.ts';
export * from './arrow_io.ts';
export { concatArrowFiles } from './arrow_concat.ts';
export { shardRanges } from './shard_ranges.ts';
export { flagName, toNumber, toPositive, toInt, toFraction, toChoice, toBool } from './option_values.ts';
export { mirrorImage, meanOfViews } from './tta.ts';
export { confusionMatrix, predictClasses, classificationReport, wilsonInterval, type ClassScores, type ClassificationReport } from './classification_metrics.ts';
