#!/usr/bin/env node
import { Command, Option } from 'commander';
import path from 'node:path';
import { errorMessage, formatBytes, listRuns, type RunRecord, stderrLogger, toInt, UserError, validateRunName, writeFileAtomic } from '@flowers/core';
import { selectBackend, type BackendRequest, type SelectedBackend } from '@flowers/core/tf';
import { evaluateFolder, predictPaths } from './evaluate.ts';
import { loadClassifier } from './inference.ts';
import { createContext, DEFAULTS, readConfigFile, resolvePath, type CommonOptions, type PipelineContext } from './context.ts';
import { collectGarbage } from './gc.ts';
import { formatInspectSummary, inspectArrowFile } from './inspect.ts';
import { layerOptions, type OptionValues } from './options.ts';
import { addAugmentOptions, AUGMENT_DEFAULTS, augmentParamsFrom, ensureAugment } from './stage_augment.ts';
import { experimentPreset, interruptSignal, runExperiment } from './experiment.ts';
import { activateBackend, addFeaturesOptions, backendOption, checkWeights, ensureFeatures, FEATURES_DEFAULTS } from './stage_features.ts';
import { addTrainOptions } from './stage_train.ts';
import { formatClassificationReport, writeComparisonForRuns, writeReportForRun } from '@flowers/report';
import { EXPERIMENT_NAMES } from '@flowers/train';
import { ensureIngest, INGEST_DEFAULTS } from './stage_ingest.ts';

const program = new Command('pipeline')
  .description('Train and evaluate image classifiers on a folder of class sub-folders, stage by stage, with cached artifacts.');

function addCommonOptions(command: Command): Command {
  return command
    .option('--workdir <dir>', `workspace for artifacts and runs (default: ${DEFAULTS.workdir})`)
    .option('--run <name>', 'run name (default: <experiment>-<timestamp>)')
    .option('--seed <n>', `random seed for split, augmentation and training (default: ${DEFAULTS.seed})`)
    .option('--workers <n>', `worker threads (default: number of cores, ${DEFAULTS.workers})`)
    .option('--force', "recompute this command's stage even if it is cached (all: every stage)")
    .option('--config <file>', 'JSON file with option values (flags win over it)');
}

function addIngestOptions(command: Command): Command {
  return command
    .option('--data <dir>', 'dataset: a folder with one sub-folder of images per class (default: ./data/flowers, else a synthetic demo set)')
    .option('--split <fractions>', 'train,validation,test fractions (default: 0.6,0.2,0.2)')
    .addOption(new Option('--max-pixels <n>', 'skip images with more pixels than this').hideHelp());
}

/** Layers flags over config over preset over defaults, and builds the context. */
const STAGES = ['ingest', 'augment', 'features', 'train'];

async function prepare(command: Command, preset: OptionValues, defaults: OptionValues) {
  const given = command.opts();
  const config = given.config ? await readConfigFile(String(given.config), command) : {};
  const { values, explicit } = layerOptions(command, config, preset, { ...DEFAULTS, force: false, ...defaults });
  const common: CommonOptions = {
    workdir: String(values.workdir),
    seed: toInt(values.seed, 'seed', 0),
    workers: toInt(values.workers, 'workers', 1, 256),
    // --force redoes the command's own stage; earlier stages still come from the cache.
    force: new Set(values.force ? (command.name() === 'all' ? STAGES : [command.name()]) : []),
    ...(values.run ? { run: validateRunName(String(values.run)) } : {}),
  };
  return { context: createContext(common), values, explicit };
}

/**
 * A stage command's work: the artifacts it reads and writes are leased (kept from `pipeline gc`)
 * until it ends, whether it succeeds or fails.
 */
async function leasingArtifacts(context: PipelineContext, work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } finally {
    await context.workspace.releaseReaderLeases();
  }
}

addIngestOptions(addCommonOptions(program.command('ingest')))
  .description('scan, validate, de-duplicate and split a dataset into split.arrow')
  .action(async (_opts, command: Command) => {
    const { context, values } = await prepare(command, {}, INGEST_DEFAULTS);
    await leasingArtifacts(context, async () => {
      const { artifact, table } = await ensureIngest(context, values);
      process.stdout.write(`${table}\n`);
      context.log.info(`ingest artifact: ${artifact.dir}`);
    });
  });

addAugmentOptions(addIngestOptions(addCommonOptions(program.command('augment'))))
  .description('decode and resize every image, with Keras-style augmented views of training images, into Arrow pixel files')
  .option('--preview <file>', 'also write a PNG grid of one training image and its augmented views')
  .action(async (_opts, command: Command) => {
    const { context, values } = await prepare(command, {}, { ...INGEST_DEFAULTS, ...AUGMENT_DEFAULTS });
    augmentParamsFrom(values, context.options.seed);
    await leasingArtifacts(context, async () => {
      const { artifact: ingest } = await ensureIngest(context, values);
      const artifact = await ensureAugment(context, values, ingest);
      context.log.info(`augment artifact: ${artifact.dir}`);
      process.stdout.write(`${JSON.stringify(artifact.manifest.rows)}\n`);
    });
  });

addFeaturesOptions(addAugmentOptions(addIngestOptions(addCommonOptions(program.command('features')))))
  .description('run a pretrained convolutional base over the pixel files and write its features as Arrow files')
  .action(async (_opts, command: Command) => {
    const { context, values } = await prepare(command, {}, { ...INGEST_DEFAULTS, ...AUGMENT_DEFAULTS, ...FEATURES_DEFAULTS });
    augmentParamsFrom(values, context.options.seed);
    await checkWeights(values);
    await activateBackend(context, values);
    await leasingArtifacts(context, async () => {
      const { artifact: ingest } = await ensureIngest(context, values);
      const augment = await ensureAugment(context, values, ingest);
      const { artifact } = await ensureFeatures(context, values, augment);
      context.log.info(`features artifact: ${artifact.dir}`);
      process.stdout.write(`${JSON.stringify(artifact.manifest.rows)}\n`);
    });
  });

const ALL_DEFAULTS = { ...INGEST_DEFAULTS, ...AUGMENT_DEFAULTS, ...FEATURES_DEFAULTS };
const REFERENCE_EXPERIMENTS = EXPERIMENT_NAMES.filter((name) => name !== 'best');

function addExperimentOption(command: Command, withAll: boolean): Command {
  return command.option(
    '--experiment <name>',
    `experiment preset: ${EXPERIMENT_NAMES.join(', ')}${withAll ? ", or 'all' (the five reference experiments, then a comparison)" : ''} (default: best)`,
  );
}

/** A train or all command: every stage the experiment needs; `all` also writes the report. */
async function experimentAction(command: Command, report: boolean): Promise<void> {
  const given = command.opts();
  const configExperiment = given.config ? (await readConfigFile(String(given.config), command)).experiment : undefined;
  const experiment = String(given.experiment ?? configExperiment ?? 'best');
  const names = experiment === 'all' && report ? REFERENCE_EXPERIMENTS : [experiment];
  const outcomes = [];
  for (const name of names) {
    const { context, values, explicit } = await prepare(command, experimentPreset(name), ALL_DEFAULTS);
    if (names.length > 1) context.options.run = `${context.options.run ?? 'compare'}-${name}`;
    const signal = interruptSignal(context);
    const { run } = await runExperiment(context, { ...values, experiment: name }, { report, signal, explicit });
    outcomes.push({ context, run });
    process.stdout.write(`${JSON.stringify({ run: run.name, experiment: run.experiment, accuracy: run.metrics?.accuracy, macro_f1: run.metrics?.macro_f1 })}\n`);
  }
  if (names.length > 1) {
    const { context } = outcomes[0]!;
    const html = await writeComparisonForRuns(context.workspace, outcomes.map((o) => o.run.name), path.join(context.workspace.runsDir, `${context.options.run ?? 'compare'}-comparison`));
    context.log.info(`comparison report: ${html}`);
  }
}

addExperimentOption(addTrainOptions(addFeaturesOptions(addAugmentOptions(addIngestOptions(addCommonOptions(program.command('train')))))), false)
  .description('train the experiment\'s model on cached artifacts (earlier stages run first if they are not cached) and record the run')
  .action(async (_opts, command: Command) => experimentAction(command, false));

addExperimentOption(addTrainOptions(addFeaturesOptions(addAugmentOptions(addIngestOptions(addCommonOptions(program.command('all')))))), true)
  .description('every stage the experiment needs, in order, reusing what is cached, then its report')
  .action(async (_opts, command: Command) => experimentAction(command, true));

program
  .command('report')
  .description("write a run's report (report.html with charts as SVG and PNG), or compare runs side by side")
  .option('--workdir <dir>', `workspace (default: ${DEFAULTS.workdir})`)
  .option('--run <name>', 'the run to report on (default: the newest)')
  .option('--compare <runs...>', 'runs to compare on one page')
  .option('--out <dir>', 'where the comparison goes (default: <workdir>/runs/comparison)')
  .action(async (opts: { workdir?: string; run?: string; compare?: string[]; out?: string }) => {
    const { workspace, log } = createContext({ ...DEFAULTS, force: new Set(), workdir: opts.workdir ?? DEFAULTS.workdir });
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
  .addOption(backendOption())
  .action(async (opts: { model: string; data: string; json?: boolean; out?: string; backend?: BackendRequest }) => {
    const backend = await announceBackend(opts.backend);
    const { metrics, report, skipped } = await evaluateFolder(resolvePath(opts.model), resolvePath(opts.data), backend, stderrLogger);
    if (opts.out) await writeFileAtomic(resolvePath(opts.out), `${JSON.stringify(metrics, null, 2)}\n`);
    process.stdout.write(opts.json ? `${JSON.stringify(metrics)}\n` : `${formatClassificationReport(report)}\n`);
    if (skipped.length) stderrLogger.warn(`${skipped.length} image(s) could not be read and were left out`);
  });

program
  .command('predict <paths...>')
  .description('classify image files or folders; prints one JSON line per image')
  .requiredOption('--model <dir>', 'a trained model directory (<workdir>/runs/<run>/model)')
  .option('--top <k>', 'how many classes to list per image', '3')
  .addOption(backendOption())
  .action(async (paths: string[], opts: { model: string; top: string; backend?: BackendRequest }) => {
    const backend = await announceBackend(opts.backend);
    const classifier = await loadClassifier(resolvePath(opts.model), backend, stderrLogger);
    try {
      for await (const line of predictPaths(classifier, paths.map(resolvePath), toInt(opts.top, 'top', 1))) process.stdout.write(`${JSON.stringify(line)}\n`);
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
  .option('--workdir <dir>', `workspace (default: ${DEFAULTS.workdir})`)
  .option('--json', 'print JSON')
  .action(async (opts: { workdir?: string; json?: boolean }) => {
    const { workspace } = createContext({ ...DEFAULTS, force: new Set(), workdir: opts.workdir ?? DEFAULTS.workdir });
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
  .option('--workdir <dir>', `workspace (default: ${DEFAULTS.workdir})`)
  .action(async (opts: { workdir?: string }) => {
    const { workspace } = createContext({ ...DEFAULTS, force: new Set(), workdir: opts.workdir ?? DEFAULTS.workdir });
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
