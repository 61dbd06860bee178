import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { shardRanges, type StageResult, type StageShards } from '@flowers/core';
import { finishIngest, validateFiles, type IngestParams, type Validation } from './ingest.ts';
import { scanUnchanged } from './scan_unchanged.ts';

/** A shard's validation results, in its files' order. */
const VALIDATION_FILE = 'validation.json';

/** The ingest artifact's result, with the split table the `ingest` command prints. */
export function withSplitTable(result: StageResult & { table: string }): StageResult {
  return { ...result, extra: { ...result.extra, table: result.table } };
}

/**
 * Ingest over the queue: a shard validates and hashes a range of the scanned files (the expensive
 * part) and writes what it found; the merge concatenates those in order and drops duplicates,
 * splits and writes split.arrow as a local run does.
 */
export const ingestShards: StageShards<IngestParams> = {
  async plan({ params, keyInputs }, shardSize) {
    return shardRanges((await scanUnchanged(params.dataDir, keyInputs.data)).files.length, shardSize);
  },
  async produce({ dir, params, keyInputs, env, range, reportRows }) {
    const dataset = await scanUnchanged(params.dataDir, keyInputs.data);
    const validation = await validateFiles(dataset, dataset.files.slice(range.start, range.end), params, { workers: env.workers, keepWarm: env.warm });
    await writeFile(path.join(dir, VALIDATION_FILE), JSON.stringify(validation));
    reportRows(range.end - range.start);
  },
  async merge({ dir, shardDirs, params, keyInputs, env }) {
    const dataset = await scanUnchanged(params.dataDir, keyInputs.data);
    const parts = await Promise.all(shardDirs.map(async (shard) => JSON.parse(await readFile(path.join(shard, VALIDATION_FILE), 'utf8')) as Validation));
    const validation: Validation = {
      valid: parts.flatMap((p) => p.valid),
      skipped: parts.flatMap((p) => p.skipped),
      unreadable: parts.reduce((n, p) => n + p.unreadable, 0),
      seconds: parts.reduce((s, p) => s + p.seconds, 0),
    };
    return withSplitTable(await finishIngest(dir, dataset, validation, params, env.log));
  },
};
