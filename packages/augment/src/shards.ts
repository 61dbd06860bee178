import { copyFile, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { concatArrowFiles, shardRanges, type StageShards } from '@flowers/core';
import { AUGMENT_PREVIEW_FILE, imageRowsIndexFile, PIXEL_FILES, readSplitFile, SPLIT_FILE, SPLITS, type SplitName } from '@flowers/core/contracts';
import { AUGMENT_REPORT_FILE, IMAGES_PER_BATCH, pixelBatchRows, produceAugment, writeAugmentReport, type AugmentStageParams, type SkippedImage } from './stage.ts';

const splitFileOf = (inputs: Readonly<Record<string, string>>): string => path.join(inputs.ingest!, SPLIT_FILE);
const exists = (file: string): Promise<boolean> => stat(file).then(() => true, () => false);

/**
 * Where a shard of split.arrow's rows may end: where every split's pixel file of a local run is at
 * a record-batch boundary (every split's photos before it fill whole batches, or are all of that
 * split's), so that the shards' batches are the local run's batches.
 */
function atBatchBoundary(rows: ReadonlyArray<{ split: SplitName }>): (row: number) => boolean {
  const totals = Object.fromEntries(SPLITS.map((s) => [s, rows.filter((r) => r.split === s).length])) as Record<SplitName, number>;
  const seen: Record<SplitName, number> = { train: 0, validation: 0, test: 0 };
  const cuts = new Set<number>();
  rows.forEach((row, index) => {
    if (SPLITS.every((s) => seen[s] % IMAGES_PER_BATCH === 0 || seen[s] === totals[s])) cuts.add(index);
    seen[row.split]++;
  });
  return (row) => cuts.has(row);
}

/**
 * Augment over the queue: a shard is a range of split.arrow's rows (photos), written as per-split
 * pixel files of its own. Shards end at the local run's record-batch boundaries (the shard size is
 * rounded up to reach one), so the merge copies their batches as they are; when a shard skipped an
 * image, it cuts the rows into a local run's batches again, so the files match either way. The skip
 * reports are concatenated in order, and the preview is the first shard's that has one, which is
 * the local run's first training photo that decoded (each shard draws its own first one).
 */
export const augmentShards: StageShards<AugmentStageParams> = {
  async plan({ inputs }, shardSize) {
    const { rows } = await readSplitFile(splitFileOf(inputs));
    return shardRanges(rows.length, shardSize, undefined, atBatchBoundary(rows));
  },
  async produce({ dir, params, inputs, env, range, reportRows }) {
    await produceAugment(dir, splitFileOf(inputs), params, { workers: env.workers, keepWarm: env.warm, log: env.log, rows: range });
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
