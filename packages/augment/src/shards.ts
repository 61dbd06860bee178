import { copyFile, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { concatArrowFiles, shardRanges, type StageShards } from '@flowers/core';
import { AUGMENT_PREVIEW_FILE, imageRowsIndexFile, PIXEL_FILES, readSplitFile, SPLIT_FILE, SPLITS } from '@flowers/core/contracts';
import { AUGMENT_REPORT_FILE, pixelBatchRows, produceAugment, writeAugmentReport, type AugmentStageParams, type SkippedImage } from './stage.ts';

const splitFileOf = (inputs: Readonly<Record<string, string>>): string => path.join(inputs.ingest!, SPLIT_FILE);
const exists = (file: string): Promise<boolean> => stat(file).then(() => true, () => false);

/**
 * Augment over the queue: a shard is a range of split.arrow's rows (photos), written as per-split
 * pixel files of its own. The merge cuts the rows into a local run's record batches again, so the
 * files match even when a shard skipped an image; the skip reports are concatenated in order, and
 * the preview is the first shard's that has one, which is the local run's first training photo
 * that decoded (each shard draws its own first one).
 */
export const augmentShards: StageShards<AugmentStageParams> = {
  async plan({ inputs }, shardSize) {
    return shardRanges((await readSplitFile(splitFileOf(inputs))).rows.length, shardSize);
  },
  async produce({ dir, params, inputs, env, range, reportRows }) {
    await produceAugment(dir, splitFileOf(inputs), params, { workers: env.workers, keepWarm: env.warm ?? false, log: env.log, rows: range });
    reportRows(range.end - range.start);
  },
  async merge({ dir, shardDirs, params, inputs }) {
    const rows: Record<string, number> = {};
    for (const split of SPLITS) {
      const rowsPerBatch = pixelBatchRows(split, params);
      // Each pixel file's index holds the same rows in the same record batches.
      for (const file of [PIXEL_FILES[split], imageRowsIndexFile(PIXEL_FILES[split])]) {
        rows[split] = await concatArrowFiles(path.join(dir, file), shardDirs.map((shard) => path.join(shard, file)), { rowsPerBatch });
      }
    }
    const skipped: SkippedImage[] = [];
    for (const shard of shardDirs) skipped.push(...(JSON.parse(await readFile(path.join(shard, AUGMENT_REPORT_FILE), 'utf8')) as { skipped: SkippedImage[] }).skipped);
    await writeAugmentReport(dir, skipped);
    for (const shard of shardDirs) {
      if (!(await exists(path.join(shard, AUGMENT_PREVIEW_FILE)))) continue;
      await copyFile(path.join(shard, AUGMENT_PREVIEW_FILE), path.join(dir, AUGMENT_PREVIEW_FILE));
      break;
    }
    const split = await readSplitFile(splitFileOf(inputs));
    const previewImage = split.rows.find((r) => r.split === 'train' && !skipped.some((s) => s.path === r.path))?.path;
    return { rows, extra: { skipped: skipped.length, previewImage } };
  },
};
