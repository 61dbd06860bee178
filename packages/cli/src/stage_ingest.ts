import path from 'node:path';
import { type Artifact, type StageSpec, runStage, stageKey, toInt, UserError } from '@flowers/core';
import {
  DEFAULT_MAX_PIXELS,
  datasetFingerprint,
  ensureDemoDataset,
  ingestCodeVersion,
  parseSplitFractions,
  produceIngest,
  scanDataset,
  unreadableFileCount,
  type IngestParams,
} from '@flowers/ingest';
import { callerCwd, isDirectory, resolvePath, type PipelineContext } from './context.ts';
import { type OptionValues } from './options.ts';

export const INGEST_DEFAULTS: OptionValues = { split: '0.6,0.2,0.2', maxPixels: DEFAULT_MAX_PIXELS };

/** `--data`, else ./data/flowers, else a generated demo set (with a banner saying so). */
export async function resolveDataDir(context: PipelineContext, data: unknown): Promise<string> {
  if (data !== undefined) {
    // An empty value is a mistake (an unset shell variable), never a request for the demo set.
    if (String(data).trim() === '') throw new UserError('--data is empty: give a folder with one sub-folder of images per class');
    return resolvePath(String(data));
  }
  const local = path.join(callerCwd(), 'data', 'flowers');
  if (await isDirectory(local)) return local;
  const demo = await ensureDemoDataset(path.join(context.workspace.root, 'demo-data', 'flowers'));
  context.log.info(
    [
      '================================================================',
      ' No --data given and no ./data/flowers here: using a small synthetic',
      ` five-class demo set (${demo}).`,
      ' For real results point the pipeline at a folder of class folders:',
      '   pnpm pipeline all --data /path/to/flowers',
      '================================================================',
    ].join('\n'),
  );
  return demo;
}

export interface IngestOutcome {
  artifact: Artifact;
  /** The split table, when the stage ran (a cache hit prints it from the manifest). */
  table: string;
}

export async function ensureIngest(context: PipelineContext, values: OptionValues): Promise<IngestOutcome> {
  const split = parseSplitFractions(String(values.split));
  const maxPixels = toInt(values.maxPixels, 'maxPixels', 1);
  const params: IngestParams = { dataDir: await resolveDataDir(context, values.data), split, seed: context.options.seed, maxPixels };
  const dataset = await scanDataset(params.dataDir);
  const spec: StageSpec = { stage: 'ingest', codeVersion: await ingestCodeVersion(), params, inputs: { data: datasetFingerprint(dataset) } };
  // The cache key only sees names, sizes and times: files that could not be read last time are read again.
  const key = stageKey(spec);
  const previous = await context.workspace.findArtifact(spec.stage, key);
  const unreadable = previous ? unreadableFileCount(previous.manifest) : 0;
  if (unreadable) context.log.info(`ingest ${key} could not read ${unreadable} file(s): reading them again`);
  let table = '';
  const artifact = await runStage(
    context.workspace,
    spec,
    async ({ dir }) => {
      const result = await produceIngest(dir, dataset, params, { workers: context.options.workers, log: context.log });
      table = result.table;
      return { ...result, extra: { ...result.extra, table } };
    },
    { log: context.log, force: context.options.force.has('ingest') || unreadable > 0 },
  );
  return { artifact, table: table || String(artifact.manifest.extra?.table ?? '') };
}
