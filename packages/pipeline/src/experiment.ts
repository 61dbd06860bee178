import { cp } from 'node:fs/promises';
import path from 'node:path';
import {
  commitRun,
  defaultRunName,
  planPipeline,
  runInterruptibly,
  runPipeline,
  type Artifact,
  type Logger,
  type PlannedStage,
  type RunRecord,
  type StageEnvironment,
  type StageExecutor,
  type Workspace,
} from '@flowers/core';
import { HISTORY_FILE, METRICS_FILE, readHistory, readMetrics } from '@flowers/core/contracts';
import { MODEL_DIR, PIPELINE_MODEL_FILE } from '@flowers/train';
import { pipelineSteps, type OptionValues, type PipelineSpec } from './spec.ts';

export interface PipelineRunOptions {
  workspace: Workspace;
  log: Logger;
  /** Aborted on Ctrl-C: the running stage stops at its next safe point, and no other starts. */
  signal: AbortSignal;
  /** Stages to rebuild even when cached. */
  force?: ReadonlySet<string>;
  /** Re-hash cached artifacts against their manifests. */
  verify?: boolean;
  /** Continue an interrupted training from its last checkpoint. */
  resume?: boolean;
  /** Where the stages to build run (default: in this process; queueExecutor: on a queue's workers). */
  executor?: StageExecutor;
}

function environment(spec: PipelineSpec, options: PipelineRunOptions): StageEnvironment {
  return {
    workers: spec.workers,
    ...(spec.threads === undefined ? {} : { threads: spec.threads }),
    ...(spec.onnxSessions === undefined ? {} : { onnxSessions: spec.onnxSessions }),
    ...(spec.backend ? { backend: spec.backend } : {}),
    log: options.log,
    signal: options.signal,
    pipeline: spec.experiment,
  };
}

/** What `pipeline status` and `all --dry-run` print: each stage, cached or to build and why. */
export function planExperiment(spec: PipelineSpec, options: Pick<PipelineRunOptions, 'workspace' | 'force' | 'verify'> & { packagesDir?: string }): Promise<PlannedStage[]> {
  return planPipeline(options.workspace, spec.experiment, pipelineSteps(spec), {
    ...(options.force ? { force: options.force } : {}),
    ...(options.verify ? { verify: true } : {}),
    ...(options.packagesDir ? { packagesDir: options.packagesDir } : {}),
  });
}

/**
 * Runs the spec's stages in order, reusing what is cached. The artifacts are leased to this
 * process (kept from `pipeline gc`) until the caller releases them, once it has recorded a run.
 */
export function runStages(spec: PipelineSpec, options: PipelineRunOptions): Promise<Record<string, Artifact>> {
  return runInterruptibly(options.signal, () =>
    runPipeline(options.workspace, spec.experiment, pipelineSteps(spec), environment(spec, options), {
      ...(options.force ? { force: options.force } : {}),
      ...(options.verify ? { verify: true } : {}),
      ...(options.resume ? { resume: true } : {}),
      ...(options.executor ? { executor: options.executor } : {}),
    }),
  );
}

export interface ExperimentOutcome {
  run: RunRecord;
  artifacts: Record<string, Artifact>;
}

/** The weights this run's features came from: as settled for this run, from where the features manifest says. */
function weightsRecord(spec: PipelineSpec, features: Artifact): NonNullable<RunRecord['weights']> {
  const { weights } = spec.features!;
  const source = String(features.manifest.extra?.weights_source);
  return { choice: weights.weights, alpha: weights.alpha, source, ...(weights.fallback ? { fallback: weights.fallback } : {}) };
}

/**
 * Every stage the experiment needs, then its run record under `runName` (and the report, if
 * asked). `values` are the options as the user's flags, config and preset gave them, for the record.
 */
export async function runExperiment(spec: PipelineSpec, values: OptionValues, options: PipelineRunOptions & { runName?: string; report: boolean }): Promise<ExperimentOutcome> {
  const { workspace, log } = options;
  try {
    const name = options.runName ?? defaultRunName(spec.experiment);
    const artifacts = await runStages(spec, options);
    const { ingest, augment, features, train } = artifacts;
    const metrics = await readMetrics(path.join(train!.dir, METRICS_FILE));
    const history = await readHistory(path.join(train!.dir, HISTORY_FILE));
    const record = await commitRun(
      workspace,
      name,
      async (dir) => {
        // The run's model stands alone: a copy, usable from any directory.
        await cp(path.join(train!.dir, MODEL_DIR), path.join(dir, 'model'), { recursive: true });
        await cp(path.join(train!.dir, PIPELINE_MODEL_FILE), path.join(dir, 'model', PIPELINE_MODEL_FILE));
        await cp(path.join(train!.dir, METRICS_FILE), path.join(dir, METRICS_FILE));
        await cp(path.join(train!.dir, HISTORY_FILE), path.join(dir, HISTORY_FILE));
        return {
          name,
          experiment: spec.experiment,
          createdAt: new Date().toISOString(),
          artifacts: Object.fromEntries(Object.entries(artifacts).map(([stage, artifact]) => [stage, artifact.manifest.key])),
          params: { ...values },
          ...(train!.manifest.backend ? { backend: train!.manifest.backend } : {}),
          engines: Object.fromEntries(
            Object.entries({ features, train }).flatMap(([stage, artifact]) => (artifact?.manifest.backend ? [[stage, artifact.manifest.backend]] : [])),
          ),
          ...(features ? { weights: weightsRecord(spec, features) } : {}),
          metrics: { accuracy: metrics.accuracy, macro_f1: metrics.macro_f1, ...(metrics.tta ? { tta: { accuracy: metrics.tta.accuracy, macro_f1: metrics.tta.macro_f1 } } : {}) },
          epochs: history.length,
          // The compute that produced this run, cached stages included.
          wallSeconds: Math.round([ingest, augment, features, train].reduce((sum, a) => sum + (a?.manifest.timings.total_s ?? 0), 0) * 10) / 10,
        };
      },
      log,
    );
    if (options.report) {
      const { writeReportForRun } = await import('@flowers/report');
      log.info(`report: ${await writeReportForRun(workspace, name)}`);
    }
    return { run: record, artifacts };
  } finally {
    await workspace.releaseReaderLeases();
  }
}
