import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  AUGMENT_PREVIEW_FILE,
  ArrowFileSink,
  Field,
  Int32,
  Schema,
  Utf8,
  createPool,
  ensureFreeSpace,
  fixedSizeListColumn,
  fixedSizeListField,
  int32Column,
  makeRecordBatch,
  mapOrdered,
  startProgress,
  utf8Column,
  type Logger,
  type StageResult,
} from '@flowers/core';
import { readSplitFile, SPLITS, type SplitFile, type SplitName } from '@flowers/ingest';
import { validateAugmentParams, type AugmentParams } from './keras_params.ts';
import { renderAugmentPreview } from './preview.ts';
import { decodeAugmentResult } from './result.ts';
import type { AugmentTask, AugmentWireResult } from './types.ts';

export interface AugmentStageParams {
  size: number;
  /** Augmented views per training image (0 = only the plain resized image). */
  views: number;
  augment: AugmentParams;
  seed: number;
}

export const PIXEL_FILES: Record<SplitName, string> = { train: 'train.arrow', validation: 'validation.arrow', test: 'test.arrow' };
export const AUGMENT_REPORT_FILE = 'augment-report.json';
export const PREVIEW_FILE = AUGMENT_PREVIEW_FILE;
/** Views shown in the preview grid (the classic figure shows a handful). */
const PREVIEW_VIEWS = 7;
/** Rows per record batch: big enough for fast I/O, small enough to keep memory flat. */
const IMAGES_PER_BATCH = 32;

/** Rows in each full record batch of a split's pixel file: a batch holds whole photos with all their views. */
export function pixelBatchRows(split: SplitName, views: number): number {
  return IMAGES_PER_BATCH * (split === 'train' ? 1 + views : 1);
}

function pixelSchema(params: AugmentStageParams, classes: readonly string[]): Schema {
  return new Schema(
    [
      new Field('sha256', new Utf8(), false),
      new Field('label_index', new Int32(), false),
      new Field('split', new Utf8(), false),
      new Field('view', new Int32(), false),
      fixedSizeListField('pixels', params.size * params.size * 3, 'uint8'),
    ],
    new Map([
      ['size', String(params.size)],
      ['classes', JSON.stringify(classes)],
      ['views', String(params.views)],
      ['augment', JSON.stringify(params.augment)],
      ['seed', String(params.seed)],
    ]),
  );
}

/** Rows of one split, gathered until a record batch is full. */
class BatchBuffer {
  private sha: string[] = [];
  private labels: number[] = [];
  private views: number[] = [];
  private images: Uint8Array[] = [];

  constructor(
    private readonly sink: ArrowFileSink,
    private readonly split: SplitName,
    private readonly imageBytes: number,
  ) {}

  add(sha256: string, labelIndex: number, view: number, pixels: Uint8Array): void {
    this.sha.push(sha256);
    this.labels.push(labelIndex);
    this.views.push(view);
    this.images.push(pixels);
  }

  get size(): number {
    return this.sha.length;
  }

  flush(): void {
    if (!this.sha.length) return;
    const pixels = new Uint8Array(this.images.length * this.imageBytes);
    this.images.forEach((image, i) => pixels.set(image, i * this.imageBytes));
    this.sink.write(
      makeRecordBatch(this.sink.schema, [
        utf8Column(this.sha),
        int32Column(Int32Array.from(this.labels)),
        utf8Column(this.sha.map(() => this.split)),
        int32Column(Int32Array.from(this.views)),
        fixedSizeListColumn(pixels, this.imageBytes),
      ]),
    );
    this.sha = [];
    this.labels = [];
    this.views = [];
    this.images = [];
  }
}

/** The images augment skipped, and why. */
export interface SkippedImage {
  path: string;
  reason: string;
}

export function writeAugmentReport(outDir: string, skipped: readonly SkippedImage[]): Promise<void> {
  return writeFile(path.join(outDir, AUGMENT_REPORT_FILE), `${JSON.stringify({ skipped }, null, 2)}\n`);
}

/**
 * Decodes and resizes every image of `split.arrow` on a worker pool, adds augmented views to
 * training images, and streams them into one Arrow file per split. Images that changed or
 * vanished since ingest are skipped and reported.
 */
export async function produceAugment(
  outDir: string,
  splitArrowPath: string,
  params: AugmentStageParams,
  options: { workers: number; log: Logger; rows?: { start: number; end: number } },
): Promise<StageResult> {
  validateAugmentParams(params.augment, params.size);
  const split: SplitFile = await readSplitFile(splitArrowPath);
  // Only a range of split.arrow's rows (one shard of the queue's), or all of them.
  const rows = options.rows ? split.rows.slice(options.rows.start, options.rows.end) : split.rows;
  const imageBytes = params.size * params.size * 3;
  const trainImages = rows.filter((r) => r.split === 'train').length;
  await ensureFreeSpace(outDir, imageBytes * (rows.length + trainImages * params.views), 'the augmented pixel files');

  const schema = pixelSchema(params, split.classes);
  const sinks = Object.fromEntries(SPLITS.map((s) => [s, new ArrowFileSink(path.join(outDir, PIXEL_FILES[s]), schema)])) as Record<SplitName, ArrowFileSink>;
  const buffers = Object.fromEntries(SPLITS.map((s) => [s, new BatchBuffer(sinks[s], s, imageBytes)])) as Record<SplitName, BatchBuffer>;
  const skipped: SkippedImage[] = [];
  const pool = createPool(new URL('./augment_worker.ts', import.meta.url), options.workers, { tasksPerWorker: 2 });
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
    await mapOrdered(
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
        buffer.add(row.sha256, row.labelIndex, 0, result.plain);
        result.views.forEach((view, v) => buffer.add(row.sha256, row.labelIndex, v + 1, view));
        if (buffer.size >= pixelBatchRows(row.split, params.views)) buffer.flush();
      },
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
    await pool.destroy();
  }
  const seconds = (performance.now() - started) / 1000;
  if (skipped.length) options.log.warn(`augment skipped ${skipped.length} image(s) (see ${AUGMENT_REPORT_FILE}): ${skipped[0]!.reason}`);
  await writeAugmentReport(outDir, skipped);
  const firstTrain = rows.find((r) => r.split === 'train' && !skipped.some((s) => s.path === r.path));
  if (firstTrain) {
    const png = await renderAugmentPreview({ path: path.join(split.dataDir, firstTrain.path), size: params.size, views: PREVIEW_VIEWS, params: params.augment, seed: params.seed, columns: 4 });
    await writeFile(path.join(outDir, PREVIEW_FILE), png);
  }
  return {
    rows: Object.fromEntries(SPLITS.map((s) => [s, sinks[s].rows])),
    timings: { decode_augment_s: Math.round(seconds * 1000) / 1000, images_per_s: Math.round((rows.length / seconds) * 10) / 10 },
    extra: { skipped: skipped.length, previewImage: firstTrain?.path },
  };
}
