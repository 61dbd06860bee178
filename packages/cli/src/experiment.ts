import { cp } from 'node:fs/promises';
import path from 'node:path';
import { commitRun, defaultRunName, runInterruptibly, UserError, type Artifact, type RunRecord } from '@flowers/core';
import type { SettledWeights } from '@flowers/features';
import { HISTORY_FILE, METRICS_FILE, readHistory, readMetrics } from '@flowers/core/contracts';
import { parseSplitFractions } from '@flowers/ingest';
import { writeReportForRun } from '@flowers/report';
import { EXPERIMENTS, EXPERIMENT_NAMES, MODEL_DIR, PIPELINE_MODEL_FILE } from '@flowers/train';
import type { PipelineContext } from './context.ts';
import type { OptionValues } from './options.ts';
import { augmentParamsFrom, ensureAugment } from './stage_augment.ts';
import { activateBackend, checkWeights, ensureFeatures, featuresParamsFrom } from './stage_features.ts';
import { ensureIngest } from './stage_ingest.ts';
import { ensureTrain, featuresValuesFor, trainConfigFrom } from './stage_train.ts';

export function experimentPreset(name: unknown): OptionValues {
  const key = String(name ?? 'best');
  const preset = EXPERIMENTS[key];
  if (!preset) throw new UserError(`unknown --experiment '${key}': one of ${EXPERIMENT_NAMES.join(', ')}, or 'all'`);
  return { ...preset, experiment: key };
}

/**
 * Ctrl-C: the first stops the running stage at its next safe point (between two batches; for
 * the trainer, after the current epoch's checkpoint); a second one stops at once. Either way
 * the unfinished artifact is never trusted.
 */
export function interruptSignal(context: PipelineContext): AbortSignal {
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    if (controller.signal.aborted) process.exit(130);
    context.log.info(`\n${signal}: stopping after the current batch (training: after the current epoch and its checkpoint); press Ctrl-C again to stop at once`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return controller.signal;
}

/** The weights this run's features came from: as settled for this run, from where the features manifest says. */
function weightsRecord(features: Artifact, weights: SettledWeights): NonNullable<RunRecord['weights']> {
  const source = String(features.manifest.extra?.weights_source);
  return { choice: weights.weights, alpha: weights.alpha, source, ...(weights.fallback ? { fallback: weights.fallback } : {}) };
}

export interface ExperimentOutcome {
  run: RunRecord;
  train: Artifact;
}

/**
 * Early stopping watches val_loss, which a split without validation rows does not have: an
 * explicit --patience is then an error, and a preset's own patience is switched off.
 */
function earlyStoppingChecked(context: PipelineContext, values: OptionValues, explicit: ReadonlySet<string>): OptionValues {
  const { patience } = trainConfigFrom(values, context.options.seed);
  if (patience === 0 || parseSplitFractions(String(values.split))[1] > 0) return values;
  if (explicit.has('patience')) throw new UserError(`early stopping needs a validation split: --patience ${patience} with --split ${values.split}`);
  context.log.info(`no validation split (--split ${values.split}): early stopping (the ${values.experiment} preset's --patience ${patience}) is off`);
  return { ...values, patience: 0 };
}

export interface ExperimentOptions {
  report: boolean;
  signal: AbortSignal;
  /** Options the user gave (flags, config), as opposed to the preset's. */
  explicit: ReadonlySet<string>;
}

/**
 * Every stage the experiment needs, in order, reusing what is cached; then the run record. Once
 * `options.signal` aborts, the running stage stops at its next safe point and no other starts.
 * The artifacts it uses are leased until then, so `pipeline gc` leaves them alone; afterwards the
 * run record refers to them.
 */
export async function runExperiment(context: PipelineContext, given: OptionValues, options: ExperimentOptions): Promise<ExperimentOutcome> {
  try {
    return await runInterruptibly(options.signal, () => stagesAndRun(context, given, options));
  } finally {
    await context.workspace.releaseReaderLeases();
  }
}

async function stagesAndRun(context: PipelineContext, given: OptionValues, options: ExperimentOptions): Promise<ExperimentOutcome> {
  const experiment = String(given.experiment);
  const name = context.options.run ?? defaultRunName(experiment);
  // Every option is checked before any stage starts, so a bad value never costs a long stage.
  const values = earlyStoppingChecked(context, given, options.explicit);
  augmentParamsFrom(values, context.options.seed);
  if (values.input !== 'pixels') await featuresParamsFrom(featuresValuesFor(values));
  if (values.input !== 'pixels') await checkWeights(featuresValuesFor(values));
  await activateBackend(context, values); // an engine that cannot load fails before any stage
  const { artifact: ingest } = await ensureIngest(context, values);
  const augment = await ensureAugment(context, values, ingest);
  const artifacts: Record<string, string> = { ingest: ingest.manifest.key, augment: augment.manifest.key };
  let features: Artifact | undefined;
  let weights: SettledWeights | undefined;
  if (values.input !== 'pixels') {
    ({ artifact: features, weights } = await ensureFeatures(context, featuresValuesFor(values), augment));
    artifacts.features = features.manifest.key;
  }
  const train = await ensureTrain(context, values, { augment, ...(features ? { features } : {}) }, options.signal);
  artifacts.train = train.manifest.key;

  const metrics = await readMetrics(path.join(train.dir, METRICS_FILE));
  const history = await readHistory(path.join(train.dir, HISTORY_FILE));
  const record = await commitRun(
    context.workspace,
    name,
    async (dir) => {
      // The run's model stands alone: a copy, usable from any directory.
      await cp(path.join(train.dir, MODEL_DIR), path.join(dir, 'model'), { recursive: true });
      await cp(path.join(train.dir, PIPELINE_MODEL_FILE), path.join(dir, 'model', PIPELINE_MODEL_FILE));
      await cp(path.join(train.dir, METRICS_FILE), path.join(dir, METRICS_FILE));
      await cp(path.join(train.dir, HISTORY_FILE), path.join(dir, HISTORY_FILE));
      return {
        name,
        experiment,
        createdAt: new Date().toISOString(),
        artifacts,
        params: values,
        ...(train.manifest.backend ? { backend: train.manifest.backend } : {}),
        engines: Object.fromEntries(
          Object.entries({ features, train }).flatMap(([stage, artifact]) => (artifact?.manifest.backend ? [[stage, artifact.manifest.backend]] : [])),
        ),
        ...(features && weights ? { weights: weightsRecord(features, weights) } : {}),
        metrics: { accuracy: metrics.accuracy, macro_f1: metrics.macro_f1 },
        epochs: history.length,
        // The compute that produced this run, cached stages included.
        wallSeconds: Math.round([ingest, augment, features, train].reduce((sum, a) => sum + (a?.manifest.timings.total_s ?? 0), 0) * 10) / 10,
      };
    },
    context.log,
  );
  if (options.report) {
    const html = await writeReportForRun(context.workspace, name);
    context.log.info(`report: ${html}`);
  }
  return { run: record, train };
}
