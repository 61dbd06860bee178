#!/usr/bin/env node
import { Command, Option } from 'commander';
import { errorMessage, formatBytes, listRuns, validateRunName, type RunRecord } from '@flowers/core';
import { createContext, DEFAULTS, readConfigFile, resolvePath, type CommonOptions } from './context.ts';
import { collectGarbage } from './gc.ts';
import { formatInspectSummary, inspectArrowFile } from './inspect.ts';
import { layerOptions, toInt, type OptionValues } from './options.ts';
import { addAugmentOptions, AUGMENT_DEFAULTS, ensureAugment } from './stage_augment.ts';
import { ensureIngest, INGEST_DEFAULTS } from './stage_ingest.ts';

const program = new Command('pipeline')
  .description('Train and evaluate image classifiers on a folder of class sub-folders, stage by stage, with cached artifacts.')
  .showHelpAfterError('(run with --help for usage)');

function addCommonOptions(command: Command): Command {
  return command
    .option('--workdir <dir>', `workspace for artifacts and runs (default: ${DEFAULTS.workdir})`)
    .option('--run <name>', 'run name (default: <experiment>-<timestamp>)')
    .option('--seed <n>', `random seed for split, augmentation and training (default: ${DEFAULTS.seed})`)
    .option('--workers <n>', `worker threads (default: number of cores, ${DEFAULTS.workers})`)
    .option('--force', 'ignore the cache and recompute')
    .option('--config <file>', 'JSON file with option values (flags win over it)');
}

function addIngestOptions(command: Command): Command {
  return command
    .option('--data <dir>', 'dataset: a folder with one sub-folder of images per class (default: ./data/flowers, else a synthetic demo set)')
    .option('--split <fractions>', 'train,validation,test fractions (default: 0.6,0.2,0.2)')
    .addOption(new Option('--max-pixels <n>', 'skip images with more pixels than this').hideHelp());
}

/** Layers flags over config over preset over defaults, and builds the context. */
async function prepare(command: Command, preset: OptionValues, defaults: OptionValues) {
  const given = command.opts();
  const config = given.config ? await readConfigFile(String(given.config)) : {};
  const values = layerOptions(command, config, preset, { ...DEFAULTS, force: false, ...defaults });
  const common: CommonOptions = {
    workdir: String(values.workdir),
    seed: toInt(values.seed, 'seed', 0),
    workers: toInt(values.workers, 'workers', 1, 256),
    force: Boolean(values.force),
    ...(values.run ? { run: validateRunName(String(values.run)) } : {}),
  };
  return { context: createContext(common), values };
}

addIngestOptions(addCommonOptions(program.command('ingest')))
  .description('scan, validate, de-duplicate and split a dataset into split.arrow')
  .action(async (_opts, command: Command) => {
    const { context, values } = await prepare(command, {}, INGEST_DEFAULTS);
    const { artifact, table } = await ensureIngest(context, values);
    process.stdout.write(`${table}\n`);
    context.log.info(`ingest artifact: ${artifact.dir}`);
  });

addAugmentOptions(addIngestOptions(addCommonOptions(program.command('augment'))))
  .description('decode and resize every image, with Keras-style augmented views of training images, into Arrow pixel files')
  .option('--preview <file>', 'also write a PNG grid of one training image and its augmented views')
  .action(async (_opts, command: Command) => {
    const { context, values } = await prepare(command, {}, { ...INGEST_DEFAULTS, ...AUGMENT_DEFAULTS });
    const { artifact: ingest } = await ensureIngest(context, values);
    const artifact = await ensureAugment(context, values, ingest);
    context.log.info(`augment artifact: ${artifact.dir}`);
    process.stdout.write(`${JSON.stringify(artifact.manifest.rows)}\n`);
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
    const { workspace } = createContext({ ...DEFAULTS, force: false, workdir: opts.workdir ?? DEFAULTS.workdir });
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
  .description('delete artifacts that no run refers to, and leftovers of interrupted stages')
  .option('--workdir <dir>', `workspace (default: ${DEFAULTS.workdir})`)
  .action(async (opts: { workdir?: string }) => {
    const { workspace } = createContext({ ...DEFAULTS, force: false, workdir: opts.workdir ?? DEFAULTS.workdir });
    const { removed, bytes } = await collectGarbage(workspace);
    for (const item of removed) process.stderr.write(`removed ${item}\n`);
    process.stdout.write(`freed ${formatBytes(bytes)} (${removed.length} artifact folder(s) removed)\n`);
  });

try {
  await program.parseAsync(process.argv);
} catch (error) {
  process.stderr.write(`error: ${errorMessage(error).split('\n')[0]}\n`);
  if (process.env.PIPELINE_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`);
  process.exitCode = 1;
}
