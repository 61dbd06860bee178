import { cp, mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { UserError, ensureFreeSpace, mapOrdered, startProgress, type FixedSizeList, type Logger, type Progress, type RecordBatch, type StageResult } from '@flowers/core';
import {
  CUT_DIR,
  CUT_TOP_DIR,
  PIXEL_FILES,
  SPLITS,
  createCutWriter,
  createFeatureWriter,
  featureSchema,
  openPixelFile,
  type ImageRowsWriter,
  type PixelFile,
  type SplitName,
} from '@flowers/core/contracts';
import type { SelectedBackend } from '@flowers/core/tf';
import type { FeatureRows } from './engines/index.ts';
import { FEATURE_POOLS, shapeSize, type FeaturePool } from './feature_model.ts';
import type { FeaturesTask } from './features_worker.ts';
import { BASE_NAMES, BASES, type BaseName } from './models/index.ts';
import { withBase, type PreparedBase } from './prepared_base.ts';
import type { SettledWeights, WeightsChoice } from './weights/resolve.ts';

export interface FeaturesStageParams {
  base: BaseName;
  /** MobileNetV2 width multiplier; ignored by InceptionV3. */
  alpha: number;
  pool: FeaturePool;
  /** A choice, or one settleWeights has settled (see SettledWeights). */
  weights: WeightsChoice | SettledWeights;
  /** Also cache the activations of this inner layer (in `cut/`), for fine-tuning the layers above it. */
  cut?: string;
  /** Images per forward pass inside a worker (at most one record batch). */
  batchSize: number;
}

export interface FeaturesStageOptions {
  /** Worker threads for the TensorFlow.js engines (ONNX Runtime lays out its own: see onnxSessionLayout). */
  workers: number;
  /** ONNX Runtime threads in all (default: one per core). */
  threads?: number;
  /** ONNX Runtime sessions, overriding the base's layout (see onnxSessionLayout). */
  onnxSessions?: number;
  /** The engine, selected (and announced) by the caller in this thread. */
  backend: SelectedBackend;
  log: Logger;
  /** Where downloaded weights are kept (default: see defaultCacheDir). */
  cacheDir?: string;
  /**
   * Only these record batches `[start, end)`, counted across the pixel files in split order (one
   * shard of the queue's); default: all. Features write one output batch per input batch.
   */
  batches?: { start: number; end: number };
  /** Called with the batches written so far, after each (a queue shard reports them to its producer). */
  onBatches?: (done: number) => void;
  /** Keep the prepared base (weights, engine, worker pool) for the next call with the same params (see prepared_base.ts). */
  keepWarm?: boolean;
}

interface PixelInput {
  split: SplitName;
  pixels: PixelFile;
  bytes: number;
}

function validateParams(params: FeaturesStageParams): void {
  if (!BASE_NAMES.includes(params.base)) throw new UserError(`features: unknown base '${params.base}'; expected one of ${BASE_NAMES.join(', ')}`);
  if (!FEATURE_POOLS.includes(params.pool)) throw new UserError(`features: pool must be one of ${FEATURE_POOLS.join(', ')}, got '${params.pool}'`);
  if (!Number.isInteger(params.batchSize) || params.batchSize < 1) throw new UserError(`features: batch size must be a whole number >= 1, got ${params.batchSize}`);
}

/** Opens the three pixel files (checking they are what the augment stage writes); returns their image size. */
export async function openPixelFiles(augmentDir: string): Promise<{ inputs: PixelInput[]; size: number }> {
  const inputs: PixelInput[] = [];
  try {
    let size: number | undefined;
    for (const split of SPLITS) {
      const file = path.join(augmentDir, PIXEL_FILES[split]);
      const bytes = await stat(file).then((s) => s.size, () => -1);
      if (bytes < 0) throw new UserError(`no pixel file ${file}: run the augment stage first`);
      const pixels = await openPixelFile(file);
      inputs.push({ split, pixels, bytes });
      if (size !== undefined && pixels.size !== size) throw new UserError(`pixel file ${file} holds ${pixels.size} px images, the others ${size} px`);
      size = pixels.size;
    }
    return { inputs, size: size! };
  } catch (error) {
    await Promise.all(inputs.map((input) => input.pixels.arrow.close()));
    throw error;
  }
}

/** A copy of a batch's pixels in a buffer of their own, so it can be transferred to a worker. */
function pixelBytesOf(batch: RecordBatch): Uint8Array {
  const list = batch.getChild('pixels')!.data[0]!;
  const child = list.children[0]!;
  const listSize = (list.type as FixedSizeList).listSize;
  const start = child.offset + list.offset * listSize;
  return (child.values as Uint8Array).slice(start, start + list.length * listSize);
}

/** Shows a download as a progress bar in MiB, once its size is known. */
export function downloadProgress(): { onProgress: (done: number, total: number | undefined) => void; finish: () => void } {
  const MiB = 2 ** 20;
  let bar: Progress | undefined;
  let shown = 0;
  return {
    onProgress(done, total) {
      bar ??= startProgress('downloading weights', Math.ceil((total ?? 0) / MiB), 'MiB');
      const whole = Math.floor(done / MiB);
      if (whole > shown) bar.tick(whole - shown);
      shown = whole;
    },
    finish() {
      bar?.done();
      bar = undefined;
    },
  };
}

/**
 * Runs a pretrained base over every row of the augment stage's pixel files on a pool of worker
 * threads and streams the features (and, with a cut, that layer's activations) into feature files
 * with the same rows (their identity columns carried over as they are) in the same order,
 * whatever the worker count.
 */
export async function produceFeatures(outDir: string, augmentDir: string, params: FeaturesStageParams, options: FeaturesStageOptions): Promise<StageResult> {
  validateParams(params);
  const { inputs, size } = await openPixelFiles(augmentDir);
  try {
    const { minInputSize } = BASES[params.base];
    if (size < minInputSize) {
      throw new UserError(`${params.base} needs images of at least ${minInputSize} px, but the pixel files in ${augmentDir} are ${size} px (re-run augment with a larger --size)`);
    }
    const download = downloadProgress();
    try {
      return await withBase(params, size, { ...options, onDownload: download.onProgress }, (base, reused) => {
        download.finish();
        return extractFeatures(outDir, inputs, size, params, options, base, reused);
      });
    } finally {
      download.finish();
    }
  } finally {
    await Promise.all(inputs.map((input) => input.pixels.arrow.close()));
  }
}

/** The features (and cut activations) of the batches options ask for, on a prepared base. */
async function extractFeatures(
  outDir: string,
  inputs: PixelInput[],
  size: number,
  params: FeaturesStageParams,
  options: FeaturesStageOptions,
  base: PreparedBase,
  reused: boolean,
): Promise<StageResult> {
  const { log, backend } = options;
  const { weights, featureShape, cutShape, layer, engine, workers, pool } = base;
  if (base.topDir) await cp(base.topDir, path.join(outDir, CUT_DIR, CUT_TOP_DIR), { recursive: true });
  const pixelBytes = size * size * 3;
  const outputFloats = shapeSize(featureShape) + (cutShape === undefined ? 0 : shapeSize(cutShape));
  // Pixel file bytes / pixel bytes per row slightly overestimates the rows: a safe estimate.
  const rowsEstimate = inputs.reduce((sum, input) => sum + Math.ceil(input.bytes / pixelBytes), 0);
  await ensureFreeSpace(outDir, rowsEstimate * outputFloats * 4, 'the feature files');

  const metadata = {
    base: params.base,
    alpha: String(weights.alpha),
    weights: weights.weights,
    weights_source: weights.source,
    weights_sha256: weights.sha256,
    pixel_scaling: JSON.stringify(weights.pixelScaling),
    input_size: String(size),
    backend: backend.name,
    classes: inputs[0]!.pixels.classesJson,
    data_dir: inputs[0]!.pixels.dataDir,
  };
  const schema = featureSchema(featureShape, { ...metadata, layer, pool: params.pool });
  const sinks = Object.fromEntries(SPLITS.map((s) => [s, createFeatureWriter(outDir, s, schema)])) as Record<SplitName, ImageRowsWriter>;
  let cutSinks: Record<SplitName, ImageRowsWriter> | undefined;
  if (cutShape !== undefined) {
    await mkdir(path.join(outDir, CUT_DIR), { recursive: true });
    cutSinks = Object.fromEntries(SPLITS.map((s) => [s, createCutWriter(outDir, s, cutShape, metadata, params.cut!)])) as Record<SplitName, ImageRowsWriter>;
  }
  const allSinks = [...Object.values(sinks), ...Object.values(cutSinks ?? {})];

  const allItems = inputs.flatMap((input) => Array.from({ length: input.pixels.arrow.numBatches }, (_, index) => ({ input, index })));
  const items = options.batches ? allItems.slice(options.batches.start, options.batches.end) : allItems;
  const progress = startProgress(`features: ${params.base} on ${backend.name}`, items.length, 'batches');
  // One reader per file seeks a shared handle: reads must not overlap.
  let reading: Promise<unknown> = Promise.resolve();
  const readBatch = (input: PixelInput, index: number): Promise<RecordBatch> => {
    const next = reading.then(() => input.pixels.arrow.readBatch(index));
    reading = next.catch(() => undefined);
    return next;
  };
  const computeStarted = performance.now();
  let rows = 0;
  try {
    await mapOrdered(
      items,
      workers * 2,
      async ({ input, index }) => {
        const batch = await readBatch(input, index);
        const pixels = pixelBytesOf(batch);
        const task: FeaturesTask = { pixels, rows: batch.numRows };
        const output = (await pool.run(task, { transferList: [pixels.buffer as ArrayBuffer] })) as FeatureRows;
        return { batch, output };
      },
      ({ batch, output }, index) => {
        const { split } = items[index]!.input;
        sinks[split].writeCarried(batch, output.features);
        cutSinks?.[split].writeCarried(batch, output.cut!);
        rows += batch.numRows;
        progress.tick();
        options.onBatches?.(index + 1);
      },
    );
    for (const sink of allSinks) await sink.close();
  } catch (error) {
    await Promise.all(allSinks.map((sink) => sink.abort()));
    throw error;
  } finally {
    progress.done();
  }
  const computeSeconds = (performance.now() - computeStarted) / 1000;
  log.info(`features: ${rows} images in ${computeSeconds.toFixed(1)} s (${(rows / computeSeconds).toFixed(1)} img/s, ${workers} ${engine.engine === 'onnx' ? 'session' : 'worker'}(s)${reused ? ', the base kept from the last shard' : ''})`);
  return {
    rows: Object.fromEntries(SPLITS.map((s) => [s, sinks[s].rows])),
    timings: { weights_s: reused ? 0 : round3(base.seconds), features_s: round3(computeSeconds), images_per_s: Math.round((rows / computeSeconds) * 10) / 10 },
    versions: { tfjs: tf.version.tfjs, ...(backend.onnx === undefined ? {} : { onnxruntime: backend.onnx.version }) },
    backend: backend.name,
    extra: {
      workers,
      ...(engine.engine === 'onnx' ? { onnx_threads_per_session: engine.threads, onnx_graph: path.basename(engine.graphFile) } : {}),
      weights: weights.weights,
      alpha: weights.alpha,
      ...(weights.fallback === undefined ? {} : { weights_fallback: weights.fallback }),
      weights_source: weights.source,
      weights_sha256: weights.sha256,
      ...(weights.fileSha256 === undefined ? {} : { weights_file_sha256: weights.fileSha256 }),
      layer,
      feature_shape: featureShape,
      ...(cutShape === undefined ? {} : { cut: params.cut, cut_shape: cutShape }),
    },
  };
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
