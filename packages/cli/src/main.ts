#!/usr/bin/env node
import { Command } from 'commander';
import { copyFile } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage, formatBytes, listRuns, type PlannedStage, type RunRecord, stderrLogger, toInt, UserError, validateRunName, Workspace, writeFileAtomic } from '@flowers/core';
import { AUGMENT_PREVIEW_FILE } from '@flowers/core/contracts';
import { selectBackend, type BackendRequest, type SelectedBackend } from '@flowers/core/tf';
import {
  EXPERIMENTS,
  EXPERIMENT_NAMES,
  PIPELINE_DEFAULTS,
  planExperiment,
  resolvePipelineSpec,
  runExperiment,
  shareFeatureExtraction,
  runStages,
  STAGE_NAMES,
  type OptionValues,
  type PipelineSpec,
  type StageName,
} from '@flowers/pipeline';
import { evaluateFolder, predictPaths } from './evaluate.ts';
import { loadClassifier } from './inference.ts';
import { callerCwd, readConfigFile, resolvePath } from './context.ts';
import { collectGarbage } from './gc.ts';
import { formatInspectSummary, inspectArrowFile } from './inspect.ts';
import { addQueueOptions, queueExecutorFrom } from './queue_options.ts';
import { addWorkerCommand } from './worker.ts';
import { addAugmentOptions, addCommonOptions, addFeaturesOptions, addIngestOptions, addTrainOptions, backendOption, layerOptions } from './options.ts';

const program = new Command('pipeline')
  .description('Train and evaluate image classifiers on a folder of class sub-folders, stage by stage, with cached artifacts.');

const log = stderrLogger;

/** The report package (Vega-Lite and its renderer), loaded only by the commands that write or print a report. */
const loadReport = () => import('@flowers/report');

function experimentPreset(name: string): OptionValues {
  const preset = EXPERIMENTS[name];
  if (!preset) throw new UserError(`unknown --experiment '${name}': one of ${EXPERIMENT_NAMES.join(', ')}, or 'all'`);
  return { ...preset, experiment: name };
}

/**
 * Ctrl-C: the first stops the running stage at its next safe point (between two batches; for
 * the trainer, after the current epoch's checkpoint); a second one stops at once. Either way
 * the unfinished artifact is never trusted.
 */
function interruptSignal(): AbortSignal {
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    if (controller.signal.aborted) process.exit(130);
    log.info(`\n${signal}: stopping after the current batch (training: after the current epoch and its checkpoint); press Ctrl-C again to stop at once`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return controller.signal;
}

/** A command's options, layered once: flags > --config > the experiment's preset > the defaults. */
interface Prepared {
  values: OptionValues;
  explicit: ReadonlySet<string>;
  workspace: Workspace;
  /** --force: the command's own stage; every stage for `all`. */
  force: ReadonlySet<string>;
}

async function prepare(command: Command, config: OptionValues, preset: OptionValues): Promise<Prepared> {
  const { values, explicit } = layerOptions(command, config, preset, PIPELINE_DEFAULTS);
  if (values.run !== undefined) validateRunName(String(values.run));
  toInt(values.seed, 'seed', 0);
  const own = command.name() === 'all' || command.name() === 'status' ? [...STAGE_NAMES] : [command.name()];
  return { values, explicit, workspace: new Workspace(resolvePath(String(values.workdir))), force: new Set(values.force ? own : []) };
}

async function configOf(command: Command): Promise<OptionValues> {
  const given = command.opts();
  return given.config ? readConfigFile(String(given.config), command) : {};
}

function specOptions(prepared: Prepared, through: StageName) {
  return { through, explicit: prepared.explicit, cwd: callerCwd(), workspace: prepared.workspace, log };
}

/** ingest, augment and features: the stages up to the command's own, then what it made. */
async function stageAction(command: Command, through: StageName): Promise<void> {
  const prepared = await prepare(command, await configOf(command), {});
  const executor = await queueExecutorFrom(prepared.values, log);
  const spec = await resolvePipelineSpec(prepared.values, specOptions(prepared, through));
  try {
    const artifacts = await runStages(spec, { workspace: prepared.workspace, log, signal: interruptSignal(), force: prepared.force, verify: Boolean(prepared.values.verify), ...(executor ? { executor } : {}) });
    const artifact = artifacts[through]!;
    if (through === 'ingest') process.stdout.write(`${String(artifact.manifest.extra?.table ?? '')}\n`);
    else process.stdout.write(`${JSON.stringify(artifact.manifest.rows)}\n`);
    if (through === 'augment' && typeof prepared.values.preview === 'string') {
      const target = resolvePath(prepared.values.preview);
      await copyFile(path.join(artifact.dir, AUGMENT_PREVIEW_FILE), target);
      process.stdout.write(`${target}\n`);
    }
    log.info(`${through} artifact: ${artifact.dir}`);
  } finally {
    await prepared.workspace.releaseReaderLeases();
  }
}

addQueueOptions(addIngestOptions(addCommonOptions(program.command('ingest'))))
  .description('scan, validate, de-duplicate and split a dataset into split.arrow')
  .action((_opts, command: Command) => stageAction(command, 'ingest'));

addQueueOptions(addAugmentOptions(addIngestOptions(addCommonOptions(program.command('augment')))))
  .description('decode and resize every image, with Keras-style augmented views of training images, into Arrow pixel files')
  .option('--preview <file>', 'also write a PNG grid of one training image and its augmented views')
  .action((_opts, command: Command) => stageAction(command, 'augment'));

addQueueOptions(addFeaturesOptions(addAugmentOptions(addIngestOptions(addCommonOptions(program.command('features'))))))
  .description('run a pretrained convolutional base over the pixel files and write its features as Arrow files')
  .action((_opts, command: Command) => stageAction(command, 'features'));

const REFERENCE_EXPERIMENTS = EXPERIMENT_NAMES.filter((name) => name !== 'best');

function addExperimentOption(command: Command, withAll: boolean): Command {
  return command.option(
    '--experiment <name>',
    `experiment preset: ${EXPERIMENT_NAMES.join(', ')}${withAll ? ", or 'all' (the five reference experiments, then a comparison)" : ''} (default: best)`,
  );
}

function formatPlan(experiment: string, plan: PlannedStage[]): string {
  const lines = [`pipeline ${experiment}:`];
  for (const step of plan) {
    const what = `  ${step.stage.padEnd(9)} ${(step.key ?? '?').padEnd(16)}  ${step.state === 'cached' ? 'up to date' : 'to build'}`;
    lines.push(step.reasons.length ? `${what}: ${step.reasons.join('; ')}` : what);
  }
  return lines.join('\n');
}

/** The experiments a train, all or status command names: `--experiment all` is the five reference ones. */
async function experimentsOf(command: Command, config: OptionValues, allowAll: boolean): Promise<string[]> {
  const experiment = String(command.opts().experiment ?? config.experiment ?? 'best');
  return experiment === 'all' && allowAll ? REFERENCE_EXPERIMENTS : [experiment];
}

/** Each experiment's options and spec, all checked before any runs; those run together share their feature extraction. */
async function resolveExperiments(command: Command, config: OptionValues, names: readonly string[]): Promise<Array<{ name: string; prepared: Prepared; spec: PipelineSpec }>> {
  const resolved = [];
  for (const name of names) {
    const given = await prepare(command, config, experimentPreset(name));
    // `--experiment all` names the set: each of its runs (and its pipeline in pipeline.lock) is its own experiment's.
    const prepared = { ...given, values: { ...given.values, experiment: name } };
    resolved.push({ name, prepared, spec: await resolvePipelineSpec(prepared.values, specOptions(prepared, 'train')) });
  }
  const shared = shareFeatureExtraction(resolved.map((r) => r.spec));
  return resolved.map((r, i) => ({ ...r, spec: shared[i]! }));
}

/** status, and all --dry-run: the plan, as dvc status prints it, without running anything. */
async function statusAction(command: Command): Promise<void> {
  const config = await configOf(command);
  for (const { name, prepared, spec } of await resolveExperiments(command, config, await experimentsOf(command, config, true))) {
    const plan = await planExperiment(spec, { workspace: prepared.workspace, force: command.name() === 'status' ? new Set() : prepared.force, verify: Boolean(prepared.values.verify) });
    process.stdout.write(`${formatPlan(name, plan)}\n`);
  }
}

/** A train or all command: every stage the experiment needs; `all` also writes the report. */
async function experimentAction(command: Command, report: boolean): Promise<void> {
  if (report && command.opts().dryRun) return statusAction(command);
  const config = await configOf(command);
  const names = await experimentsOf(command, config, report);
  const signal = interruptSignal();
  const runs: RunRecord[] = [];
  for (const { name, prepared, spec } of await resolveExperiments(command, config, names)) {
    const executor = await queueExecutorFrom(prepared.values, log);
    const given = prepared.values.run === undefined ? undefined : String(prepared.values.run);
    const runName = names.length > 1 ? `${given ?? 'compare'}-${name}` : given;
    const { run } = await runExperiment(spec, prepared.values, {
      workspace: prepared.workspace,
      log,
      signal,
      force: prepared.force,
      verify: Boolean(prepared.values.verify),
      resume: Boolean(prepared.values.resume),
      ...(executor ? { executor } : {}),
      report,
      ...(runName === undefined ? {} : { runName }),
    });
    runs.push(run);
    const tta = run.metrics?.tta ? { accuracy_tta: run.metrics.tta.accuracy } : {};
    process.stdout.write(`${JSON.stringify({ run: run.name, experiment: run.experiment, accuracy: run.metrics?.accuracy, macro_f1: run.metrics?.macro_f1, ...tta })}\n`);
  }
  if (names.length > 1) {
    const workspace = new Workspace(resolvePath(String(command.opts().workdir ?? PIPELINE_DEFAULTS.workdir)));
    const given = command.opts().run ?? config.run;
    const { writeComparisonForRuns } = await loadReport();
    const html = await writeComparisonForRuns(workspace, runs.map((r) => r.name), path.join(workspace.runsDir, `${given ?? 'compare'}-comparison`));
    log.info(`comparison report: ${html}`);
  }
}

addExperimentOption(addQueueOptions(addTrainOptions(addFeaturesOptions(addAugmentOptions(addIngestOptions(addCommonOptions(program.command('train'))))))), false)
  .description('train the experiment\'s model on cached artifacts (earlier stages run first if they are not cached) and record the run')
  .action((_opts, command: Command) => experimentAction(command, false));

addExperimentOption(addQueueOptions(addTrainOptions(addFeaturesOptions(addAugmentOptions(addIngestOptions(addCommonOptions(program.command('all'))))))), true)
  .description('every stage the experiment needs, in order, reusing what is cached, then its report')
  .option('--dry-run', 'print the plan (as `status`) and run nothing')
  .action((_opts, command: Command) => experimentAction(command, true));

addExperimentOption(addTrainOptions(addFeaturesOptions(addAugmentOptions(addIngestOptions(addCommonOptions(program.command('status')))))), true)
  .description("the experiment's plan: each stage's artifact, up to date or to build and why (params, code or an input changed); runs nothing")
  .action((_opts, command: Command) => statusAction(command));

addWorkerCommand(program);

program
  .command('report')
  .description("write a run's report (report.html with charts as SVG and PNG), or compare runs side by side")
  .option('--workdir <dir>', `workspace (default: ${PIPELINE_DEFAULTS.workdir})`)
  .option('--run <name>', 'the run to report on (default: the newest)')
  .option('--compare <runs...>', 'runs to compare on one page')
  .option('--out <dir>', 'where the comparison goes (default: <workdir>/runs/comparison)')
  .action(async (opts: { workdir?: string; run?: string; compare?: string[]; out?: string }) => {
    const workspace = new Workspace(resolvePath(opts.workdir ?? PIPELINE_DEFAULTS.workdir));
    const { writeComparisonForRuns, writeReportForRun } = await loadReport();
    if (opts.compare?.length) {
      const html = await writeComparisonForRuns(workspace, opts.compare, opts.out ? resolvePath(opts.out) : path.join(workspace.runsDir, 'comparison'));
      process.stdout.write(`${html}\n`);
      return;
    }
    const name = opts.run ?? (await listRuns(workspace))[0]?.name;
    if (!name) throw new UserError(`no runs in ${workspace.runsDir}: train one first (pnpm pipeline train)`);
    const html = await writeReportForRun(workspace, name);
    log.info(`report for run '${name}'`);
    process.stdout.write(`${html}\n`);
  });

/** evaluate and predict: the engine for the base, said on stderr. */
async function announceBackend(requested: BackendRequest = 'auto'): Promise<SelectedBackend> {
  const backend = await selectBackend(requested);
  stderrLogger.info(`backend: ${backend.name} — ${backend.reason}`);
  return backend;
}

program
  .command('evaluate')
  .description('run a trained model on every image of a labelled folder of class folders and print the classification report')
  .requiredOption('--model <dir>', 'a trained model directory (<workdir>/runs/<run>/model)')
  .requiredOption('--data <dir>', 'a folder with one sub-folder of images per class')
  .option('--json', 'print the metrics as JSON instead')
  .option('--out <file>', 'also write the metrics JSON to this file')
  .option('--tta', "also the figures with test-time augmentation: the mean of each image's and its mirror image's probabilities")
  .addOption(backendOption())
  .action(async (opts: { model: string; data: string; json?: boolean; out?: string; tta?: boolean; backend?: BackendRequest }) => {
    const backend = await announceBackend(opts.backend);
    const { metrics, report, skipped } = await evaluateFolder(resolvePath(opts.model), resolvePath(opts.data), backend, stderrLogger, { tta: Boolean(opts.tta) });
    if (opts.out) await writeFileAtomic(resolvePath(opts.out), `${JSON.stringify(metrics, null, 2)}\n`);
    const ttaLine = metrics.tta ? `\nwith test-time augmentation (mirror): accuracy ${metrics.tta.accuracy.toFixed(4)}, macro F1 ${metrics.tta.macro_f1.toFixed(4)}\n` : '';
    process.stdout.write(opts.json ? `${JSON.stringify(metrics)}\n` : `${(await loadReport()).formatClassificationReport(report)}\n${ttaLine}`);
    if (skipped.length) stderrLogger.warn(`${skipped.length} image(s) could not be read and were left out`);
  });

program
  .command('predict <paths...>')
  .description('classify image files or folders; prints one JSON line per image')
  .requiredOption('--model <dir>', 'a trained model directory (<workdir>/runs/<run>/model)')
  .option('--top <k>', 'how many classes to list per image', '3')
  .option('--tta', "test-time augmentation: the mean of each image's and its mirror image's probabilities")
  .addOption(backendOption())
  .action(async (paths: string[], opts: { model: string; top: string; tta?: boolean; backend?: BackendRequest }) => {
    const backend = await announceBackend(opts.backend);
    const classifier = await loadClassifier(resolvePath(opts.model), backend, stderrLogger);
    try {
      for await (const line of predictPaths(classifier, paths.map(resolvePath), { topK: toInt(opts.top, 'top', 1), tta: Boolean(opts.tta) })) process.stdout.write(`${JSON.stringify(line)}\n`);
    } finally {
      classifier.dispose();
    }
  });

program
  .command('inspect <file>')
  .description('show an Arrow file: schema, metadata, row counts per split and class, numeric ranges, first rows')
  .option('--json', 'print one JSON object')
  .option('--head <n>', 'rows to show', '5')
  .action(async (file: string, opts: { json?: boolean; head: string }) => {
    const summary = await inspectArrowFile(resolvePath(file), toInt(opts.head, 'head', 0));
    process.stdout.write(opts.json ? `${JSON.stringify(summary)}\n` : `${formatInspectSummary(summary)}\n`);
  });

program
  .command('runs')
  .description('list runs: name, experiment, test accuracy, date')
  .option('--workdir <dir>', `workspace (default: ${PIPELINE_DEFAULTS.workdir})`)
  .option('--json', 'print JSON')
  .action(async (opts: { workdir?: string; json?: boolean }) => {
    const workspace = new Workspace(resolvePath(opts.workdir ?? PIPELINE_DEFAULTS.workdir));
    const runs = await listRuns(workspace);
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(runs)}\n`);
      return;
    }
    if (!runs.length) {
      process.stderr.write(`no runs in ${workspace.runsDir}\n`);
      return;
    }
    const rows = runs.map((r: RunRecord) => [r.name, r.experiment, r.metrics ? r.metrics.accuracy.toFixed(4) : '-', r.createdAt.replace('T', ' ').slice(0, 19)]);
    const header = ['run', 'experiment', 'accuracy', 'date'];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    for (const row of [header, ...rows]) process.stdout.write(`${row.map((c, i) => c.padEnd(widths[i]!)).join('  ')}\n`);
  });

program
  .command('gc')
  .description('delete artifacts that no run refers to (keeping those a running pipeline uses), and leftovers of interrupted stages')
  .option('--workdir <dir>', `workspace (default: ${PIPELINE_DEFAULTS.workdir})`)
  .action(async (opts: { workdir?: string }) => {
    const workspace = new Workspace(resolvePath(opts.workdir ?? PIPELINE_DEFAULTS.workdir));
    const { removed, kept, bytes } = await collectGarbage(workspace);
    for (const item of removed) process.stderr.write(`removed ${item}\n`);
    for (const item of kept) process.stderr.write(`kept ${item}\n`);
    process.stdout.write(`freed ${formatBytes(bytes)} (${removed.length} artifact folder(s) removed)\n`);
  });

let failureReported = false;
function reportFailure(error: unknown): void {
  if (process.env.PIPELINE_DEBUG) process.stderr.write(`${error instanceof Error ? error.stack : JSON.stringify(error)}\n`);
  // After the command's own failure line, a late error from tearing down (a worker pool stopped
  // mid-task, say) says nothing new: the one line stays the last.
  if (failureReported) return;
  failureReported = true;
  process.stderr.write(`error: ${errorMessage(error).split('\n')[0]}\n`);
}
// A rejection nobody awaited, or an exception thrown from a callback, is still a failure of this
// command: one line, non-zero exit.
for (const event of ['unhandledRejection', 'uncaughtException'] as const) {
  process.on(event, (reason: unknown) => {
    reportFailure(reason);
    process.exit(1);
  });
}

try {
  await program.parseAsync(process.argv);
} catch (error) {
  reportFailure(error);
  process.exitCode = 1;
}
