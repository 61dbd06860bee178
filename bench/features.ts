/**
 * Features stage throughput: images per second through the worker pool in steady state (after
 * every worker has built its model), per base, backend and worker count, plus peak RSS (worker
 * threads included). Each configuration runs in a fresh process so its peak RSS is its own.
 *   benchFeatures({ images: 192 })                                 (every configuration)
 *   node --import tsx bench/features.ts <base> <size> <weights> <backend> <workers> <images> <batch size>
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPool, mapOrdered } from '../packages/core/src/index.ts';
import { selectBackend, type BackendRequest } from '../packages/core/src/tf.ts';
import { decodeResized } from '../packages/augment/src/index.ts';
import { applyLayerWeights, buildFeatureModel, resolveWeights, type BaseName } from '../packages/features/src/index.ts';
import { encodeModelWeights } from '../packages/features/src/feature_model.ts';
import type { FeaturesTask, FeaturesWorkerData } from '../packages/features/src/features_worker.ts';

const FLOWERS = path.resolve(import.meta.dirname, '../../shared/data/flowers');
const SHARED_MOBILENET = path.resolve(import.meta.dirname, '../../shared/models/mobilenet_v2_0.35_imagenet/model.json');
const WORKER = new URL('../packages/features/src/features_worker.ts', import.meta.url);
/** Rows per task, as in the augment stage's record batches. */
const ROWS_PER_TASK = 32;

/** The first `count` photos, taken from each class in turn. */
function photos(count: number): string[] {
  const classes = readdirSync(FLOWERS, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
  const lists = classes.map((c) => readdirSync(path.join(FLOWERS, c)).filter((f) => f.endsWith('.jpg')).sort().map((f) => path.join(FLOWERS, c, f)));
  return Array.from({ length: count }, (_, i) => lists[i % lists.length]![Math.floor(i / lists.length)]!);
}

interface Config {
  base: BaseName;
  size: number;
  weights: string;
  backend: BackendRequest;
  workers: number;
  images: number;
  /** Images per forward pass. */
  batchSize: number;
}

/** One configuration, in this process. */
async function measure({ base, size, weights, backend, workers, images, batchSize }: Config): Promise<Record<string, unknown>> {
  const started = performance.now();
  await selectBackend(backend);
  const spec = { base, alpha: 0.35, inputSize: size, pool: 'avg' as const };
  const resolved = await resolveWeights({ base, alpha: spec.alpha, inputSize: size, weights });
  const featureModel = buildFeatureModel(spec);
  applyLayerWeights(featureModel.base, resolved.layers, resolved.source);
  const encoded = await encodeModelWeights(featureModel.base);
  featureModel.base.dispose();

  const pixelBytes = size * size * 3;
  const pixels = new Uint8Array(images * pixelBytes);
  for (const [i, file] of photos(images).entries()) pixels.set(await decodeResized(readFileSync(file), size), i * pixelBytes);
  const tasks = Array.from({ length: Math.ceil(images / ROWS_PER_TASK) }, (_, t) => pixels.slice(t * ROWS_PER_TASK * pixelBytes, Math.min(images, (t + 1) * ROWS_PER_TASK) * pixelBytes));
  const run = (chunk: Uint8Array): Promise<unknown> =>
    pool.run({ pixels: chunk, rows: chunk.length / pixelBytes } satisfies FeaturesTask, { transferList: [chunk.buffer as ArrayBuffer] });

  const workerData: FeaturesWorkerData = { spec, backend, batchSize, weights: encoded };
  const pool = createPool(WORKER, workers, { workerData });
  try {
    // One single-image task per worker: each builds its model before the clock starts.
    await Promise.all(Array.from({ length: workers }, () => run(pixels.slice(0, pixelBytes))));
    const startup = (performance.now() - started) / 1000;
    const clock = performance.now();
    await mapOrdered(tasks, workers * 2, run, () => undefined);
    const seconds = (performance.now() - clock) / 1000;
    return {
      base,
      input_size: size,
      backend,
      workers,
      images,
      batch_size: batchSize,
      seconds: Math.round(seconds * 100) / 100,
      images_per_s: Math.round((images / seconds) * 10) / 10,
      startup_s: Math.round(startup * 10) / 10,
      peak_rss_mib: Math.round(process.resourceUsage().maxRSS / 1024),
    };
  } finally {
    await pool.destroy();
  }
}

function inChild(config: Config): Record<string, unknown> {
  const args = [config.base, config.size, config.weights, config.backend, config.workers, config.images, config.batchSize].map(String);
  const result = spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), fileURLToPath(import.meta.url), ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (result.status !== 0) throw new Error(`bench/features.ts ${args.join(' ')} failed with exit code ${result.status}`);
  return JSON.parse(result.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
}

/**
 * InceptionV3 at 150 px (nsfwjs weights, offline) and MobileNetV2 0.35 at 224 px (the shared
 * weights) on wasm and cpu, 1 and 2 workers. The pure-JS cpu backend gets fewer images.
 */
export async function benchFeatures({ images = 192, cpuImages = 8, batchSize = 16 }: { images?: number; cpuImages?: number; batchSize?: number } = {}): Promise<Record<string, unknown>> {
  const models = [
    { name: 'inception_v3_150', base: 'inception_v3' as const, size: 150, weights: 'nsfwjs-inception' },
    { name: 'mobilenet_v2_035_224', base: 'mobilenet_v2' as const, size: 224, weights: SHARED_MOBILENET },
  ];
  const report: Record<string, unknown> = {};
  for (const model of models) {
    for (const backend of ['wasm', 'cpu'] as const) {
      for (const workers of [1, 2]) {
        const config = { base: model.base, size: model.size, weights: model.weights, backend, workers, images: backend === 'cpu' ? cpuImages : images, batchSize };
        report[`${model.name}_${backend}_${workers}w`] = inChild(config);
      }
    }
  }
  return report;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [base, size, weights, backend, workers, images, batchSize] = process.argv.slice(2);
  if (batchSize === undefined) {
    process.stdout.write(`${JSON.stringify(await benchFeatures(), null, 2)}\n`);
  } else {
    const config = { base: base as BaseName, size: Number(size), weights: weights!, backend: backend as BackendRequest, workers: Number(workers), images: Number(images), batchSize: Number(batchSize) };
    process.stdout.write(`${JSON.stringify(await measure(config))}\n`);
  }
}
