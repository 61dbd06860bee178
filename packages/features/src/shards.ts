import { cp, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { concatArrowFiles, shardRanges, type StageResult, type StageShards } from '@flowers/core';
import { CUT_DIR, CUT_TOP_DIR, FEATURE_FILES, imageRowsIndexFile } from '@flowers/core/contracts';
import { openPixelFiles } from './stage.ts';
import type { FeaturesStepParams } from './definition.ts';
import { produceFeaturesStep } from './step.ts';

/** What a shard's produceFeatures returned (engine, weights, layout): the merge reports the first shard's. */
const SHARD_RESULT_FILE = 'shard-result.json';

async function concatSplits(dir: string, shardDirs: readonly string[]): Promise<Record<string, number>> {
  const rows: Record<string, number> = {};
  for (const [split, file] of Object.entries(FEATURE_FILES)) {
    // Each data file's index holds the same rows in the same record batches.
    for (const name of [file, imageRowsIndexFile(file)]) rows[split] = await concatArrowFiles(path.join(dir, name), shardDirs.map((shard) => path.join(shard, name)));
  }
  return rows;
}

/**
 * Features over the queue: a shard is a range of the pixel files' record batches (counted across
 * the files in split order), and each input batch gives one output batch, so concatenating the
 * shards' batches in order gives a local run's files.
 */
export const featuresShards: StageShards<FeaturesStepParams> = {
  // Each shard loads the weights and starts its engine's sessions, which takes a second or two.
  defaultSize: 1024,
  async plan({ inputs }, shardSize) {
    const { inputs: files } = await openPixelFiles(inputs.augment!);
    try {
      const batches = files.reduce((n, file) => n + file.pixels.arrow.numBatches, 0);
      const first = files.find((file) => file.pixels.arrow.numBatches > 0);
      const rowsPerBatch = first ? (await first.pixels.arrow.readBatch(0)).numRows : 1;
      return shardRanges(batches, Math.ceil(shardSize / rowsPerBatch), 'batches');
    } finally {
      await Promise.all(files.map((file) => file.pixels.arrow.close()));
    }
  },
  async produce({ dir, params, inputs, env, range, reportRows }) {
    const result = await produceFeaturesStep(dir, inputs.augment!, params, env, { batches: range, onBatches: reportRows });
    await writeFile(path.join(dir, SHARD_RESULT_FILE), JSON.stringify(result));
  },
  async merge({ dir, shardDirs }) {
    const results = await Promise.all(shardDirs.map(async (shard) => JSON.parse(await readFile(path.join(shard, SHARD_RESULT_FILE), 'utf8')) as StageResult));
    const rows = await concatSplits(dir, shardDirs);
    const cutDirs = shardDirs.map((shard) => path.join(shard, CUT_DIR));
    if (await stat(cutDirs[0]!).then(() => true, () => false)) {
      await mkdir(path.join(dir, CUT_DIR));
      await concatSplits(path.join(dir, CUT_DIR), cutDirs);
      // Every shard saved the same pretrained top (the weights are one file).
      await cp(path.join(cutDirs[0]!, CUT_TOP_DIR), path.join(dir, CUT_DIR, CUT_TOP_DIR), { recursive: true });
    }
    const featuresSeconds = results.reduce((sum, r) => sum + (r.timings?.features_s ?? 0), 0);
    return { ...results[0]!, rows, timings: { features_s: Math.round(featuresSeconds * 1000) / 1000 } };
  },
};
