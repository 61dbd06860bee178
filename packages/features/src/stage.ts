import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { UserError, createPool, ensureFreeSpace, mapOrdered, startProgress, type FixedSizeList, type Logger, type Progress, type RecordBatch, type StageResult } from '@flowers/core';
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
import { fileIOHandler, type SelectedBackend } from '@flowers/core/tf';
import { onnxSessionLayout, prepareEngine, type FeatureRows } from './engines/index.ts';
import { buildFeatureModel, FEATURE_POOLS, shapeSize, type FeatureModelSpec, type FeaturePool } from './feature_model.ts';
import type { FeaturesTask, FeaturesWorkerData } from './features_worker.ts';
import { BASE_NAMES, BASES, splitAtLayer, type BaseName } from './models/index.ts';
import { applyLayerWeights } from './weights/apply.ts';
import { resolveWeights, type SettledWeights, type WeightsChoice } from './weights/resolve.ts';

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
    finish: () => bar?.done(),
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
  const { log } = options;
  const { inputs, size } = await openPixelFiles(augmentDir);
  try {
    const { minInputSize } = BASES[params.base];
    if (size < minInputSize) {
      throw new UserError(`${params.base} needs images of at least ${minInputSize} px, but the pixel files in ${augmentDir} are ${size} px (re-run augment with a larger --size)`);
    }
    const { backend } = options;
    let workers = Math.max(1, options.workers);
    let threads: number | undefined;
    if (backend.name === 'tensorflow' && workers > 1) {
      log.info('features: 1 worker, since native TensorFlow uses every core by itself');
      workers = 1;
    }
    if (backend.onnx !== undefined) {
      ({ sessions: workers, threadsPerSession: threads } = onnxSessionLayout(params.base, options.threads, options.onnxSessions));
      log.info(`features: ${workers} ONNX Runtime session(s) of ${threads} thread(s)`);
    }

    const started = performance.now();
    const download = downloadProgress();
    const weights = await resolveWeights({ base: params.base, alpha: params.alpha, inputSize: size, weights: params.weights, cacheDir: options.cacheDir, onProgress: download.onProgress, log }).finally(download.finish);
    // Apply the weights here once, so a wrong file fails before any worker starts. The base is
    // as wide as its weights: a fallback to a bundled base may have switched the width.
    const spec: FeatureModelSpec = { base: params.base, alpha: weights.alpha, inputSize: size, pool: params.pool, pixelScaling: weights.pixelScaling, ...(params.cut === undefined ? {} : { cut: params.cut }) };
    const featureModel = buildFeatureModel(spec);
    let engine;
    try {
      applyLayerWeights(featureModel.base, weights.layers, weights.source);
      if (params.cut !== undefined) await splitAtLayer(featureModel.base, params.cut).top.save(fileIOHandler(path.join(outDir, CUT_DIR, CUT_TOP_DIR)));
      engine = await prepareEngine(featureModel, backend, {
        batchSize: params.batchSize,
        ...(threads === undefined ? {} : { threads }),
        weightsSha256: weights.sha256,
        cacheDir: options.cacheDir,
        log,
      });
    } finally {
      featureModel.base.dispose();
    }
    const weightsSeconds = (performance.now() - started) / 1000;

    const { featureShape, cutShape, layer } = featureModel;
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

    const workerData: FeaturesWorkerData = { engine };
    const pool = createPool(new URL('./features_worker.ts', import.meta.url), workers, { workerData });
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
      await pool.destroy();
    }
    const computeSeconds = (performance.now() - computeStarted) / 1000;
    log.info(`features: ${rows} images in ${computeSeconds.toFixed(1)} s (${(rows / computeSeconds).toFixed(1)} img/s, ${workers} ${engine.engine === 'onnx' ? 'session' : 'worker'}(s))`);
    return {
      rows: Object.fromEntries(SPLITS.map((s) => [s, sinks[s].rows])),
      timings: { weights_s: round3(weightsSeconds), features_s: round3(computeSeconds), images_per_s: Math.round((rows / computeSeconds) * 10) / 10 },
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
  } finally {
    await Promise.all(inputs.map((input) => input.pixels.arrow.close()));
  }
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
