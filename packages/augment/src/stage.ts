import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ensureFreeSpace, mapOrdered, withPool, mirrorImage, startProgress, type Logger, type StageResult } from '@flowers/core';
import {
  AUGMENT_PREVIEW_FILE,
  SPLITS,
  createPixelWriter,
  readSplitFile,
  type ImageRow,
  type ImageRowsWriter,
  type SplitFile,
  type SplitName,
} from '@flowers/core/contracts';
import { validateAugmentParams, type AugmentParams } from './keras_params.ts';
import { renderPreviewGrid } from './preview.ts';
import { decodeAugmentResult } from './result.ts';
import type { AugmentTask, AugmentWireResult } from './types.ts';

export interface AugmentStageParams {
  size: number;
  /** Augmented views per training image (0 = only the plain resized image). */
  views: number;
  augment: AugmentParams;
  seed: number;
  /** Test-time augmentation: also the mirror image of each validation and test photo, as its view 1. */
  tta?: true;
}

export const AUGMENT_REPORT_FILE = 'augment-report.json';
/** Views shown in the preview grid (the classic figure shows a handful), at most the views produced. */
const PREVIEW_VIEWS = 7;
const PREVIEW_COLUMNS = 4;
/** Rows per record batch: big enough for fast I/O, small enough to keep memory flat. */
export const IMAGES_PER_BATCH = 32;

/** Rows in each full record batch of a split's pixel file: a batch holds whole photos with all their views. */
export function pixelBatchRows(split: SplitName, { views, tta }: Pick<AugmentStageParams, 'views' | 'tta'>): number {
  return IMAGES_PER_BATCH * (split === 'train' ? 1 + views : tta ? 2 : 1);
}

/** The images augment skipped, and why. */
export interface SkippedImage {
  path: string;
  reason: string;
}

export function writeAugmentReport(outDir: string, skipped: readonly SkippedImage[]): Promise<void> {
  return writeFile(path.join(outDir, AUGMENT_REPORT_FILE), `${JSON.stringify({ skipped }, null, 2)}\n`);
}

/** Rows of one split, gathered until a record batch is full. */
class BatchBuffer {
  private rows: ImageRow[] = [];
  private images: Uint8Array[] = [];

  constructor(
    private readonly writer: ImageRowsWriter,
    private readonly imageBytes: number,
  ) {}

  add(row: ImageRow, pixels: Uint8Array): void {
    this.rows.push(row);
    this.images.push(pixels);
  }

  get size(): number {
    return this.rows.length;
  }

  flush(): void {
    if (!this.rows.length) return;
    const pixels = new Uint8Array(this.images.length * this.imageBytes);
    this.images.forEach((image, i) => pixels.set(image, i * this.imageBytes));
    this.writer.write(this.rows, pixels);
    this.rows = [];
    this.images = [];
  }
}

/**
 * Decodes and resizes every image of `split.arrow` on a worker pool, adds augmented views to
 * training images, and streams them into one pixel file per split, each row carrying the image's
 * row id and path in split.arrow; the first training image and its views also make preview.png.
 * Images that changed or vanished since ingest are skipped and reported.
 */
export async function produceAugment(
  outDir: string,
  splitArrowPath: string,
  params: AugmentStageParams,
  options: { workers: number; keepWarm?: boolean; log: Logger; rows?: { start: number; end: number } },
): Promise<StageResult> {
  validateAugmentParams(params.augment, params.size);
  const split: SplitFile = await readSplitFile(splitArrowPath);
  const imageBytes = params.size * params.size * 3;
  // Only a range of split.arrow's rows (one shard of the queue's), or all of them.
  const first = options.rows?.start ?? 0;
  const rows = split.rows.slice(first, options.rows?.end ?? split.rows.length);
  const trainImages = rows.filter((r) => r.split === 'train').length;
  const mirrored = params.tta ? rows.length - trainImages : 0;
  await ensureFreeSpace(outDir, imageBytes * (rows.length + trainImages * params.views + mirrored), 'the augmented pixel files');

  const meta = { size: params.size, classes: split.classes, views: params.views, augment: params.augment, seed: params.seed, dataDir: split.dataDir };
  const sinks = Object.fromEntries(SPLITS.map((s) => [s, createPixelWriter(outDir, s, meta)])) as Record<SplitName, ImageRowsWriter>;
  const buffers = Object.fromEntries(SPLITS.map((s) => [s, new BatchBuffer(sinks[s], imageBytes)])) as Record<SplitName, BatchBuffer>;
  // The first training image that decodes, as the pool produced it: the preview's tiles.
  let preview: { path: string; tiles: Uint8Array[] } | undefined;
  const skipped: SkippedImage[] = [];
  const progress = startProgress('augment: decoding images', rows.length, 'img');
  const started = performance.now();
  const tasks: AugmentTask[] = rows.map((row) => ({
    path: path.join(split.dataDir, row.path),
    sha256: row.sha256,
    size: params.size,
    views: params.views,
    params: params.augment,
    seed: params.seed,
    isTraining: row.split === 'train',
  }));
  try {
    await withPool(new URL('./augment_worker.ts', import.meta.url), options.workers, { tasksPerWorker: 2, keepWarm: options.keepWarm }, (pool) =>
      mapOrdered(
        tasks,
        options.workers * 8,
        (task) => pool.run(task) as Promise<AugmentWireResult>,
        (wire, index) => {
          progress.tick();
          const row = rows[index]!;
          const result = decodeAugmentResult(wire, tasks[index]!);
          if (!result.ok) {
            skipped.push({ path: row.path, reason: result.reason });
            return;
          }
          const buffer = buffers[row.split];
          const identity = { rowId: first + index, path: row.path, sha256: row.sha256, labelIndex: row.labelIndex, split: row.split };
          buffer.add({ ...identity, view: 0 }, result.plain);
          result.views.forEach((view, v) => buffer.add({ ...identity, view: v + 1 }, view));
          if (params.tta && row.split !== 'train') buffer.add({ ...identity, view: 1 }, mirrorImage(result.plain, params.size));
          if (preview === undefined && row.split === 'train') preview = { path: row.path, tiles: [result.plain, ...result.views.slice(0, PREVIEW_VIEWS)] };
          if (buffer.size >= pixelBatchRows(row.split, params)) buffer.flush();
        },
      ),
    );
    for (const s of SPLITS) {
      buffers[s].flush();
      await sinks[s].close();
    }
  } catch (error) {
    await Promise.all(SPLITS.map((s) => sinks[s].abort()));
    throw error;
  } finally {
    progress.done();
  }
  const seconds = (performance.now() - started) / 1000;
  if (skipped.length) options.log.warn(`augment skipped ${skipped.length} image(s) (see ${AUGMENT_REPORT_FILE}): ${skipped[0]!.reason}`);
  await writeAugmentReport(outDir, skipped);
  if (preview) await writeFile(path.join(outDir, AUGMENT_PREVIEW_FILE), await renderPreviewGrid(preview.tiles, params.size, PREVIEW_COLUMNS));
  return {
    rows: Object.fromEntries(SPLITS.map((s) => [s, sinks[s].rows])),
    timings: { decode_augment_s: Math.round(seconds * 1000) / 1000, images_per_s: Math.round((rows.length / seconds) * 10) / 10 },
    extra: { skipped: skipped.length, previewImage: preview?.path },
  };
}
