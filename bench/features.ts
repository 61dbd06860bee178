/**
 * Features stage throughput, the stage as a whole: pixel files in, Arrow feature files out
 * (reading, inference and writing, after the weights are loaded and the ONNX graph is
 * exported), per base, engine and thread layout, plus peak RSS (worker threads included), with
 * the PyTorch peer's InceptionV3 figure from the same run. Each configuration runs in a fresh
 * process so its peak RSS is its own.
 *   benchFeatures()                                                    (every configuration)
 *   node --import tsx bench/features.ts <workdir> <photos> <size> <base> <weights> <backend> <workers> <threads> <sessions, 0: default> <batch size>
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BackendRequest } from '../packages/core/src/tf.ts';
import type { BaseName } from '../packages/features/src/index.ts';
import { runStagesFor } from './stage_run.ts';
import { peerBenchmark } from './peer.ts';
import { SHARED_FLOWERS as FLOWERS, SHARED_MOBILENET } from '../shared_folder.ts';


interface Config {
  /** A workdir whose ingest and augment artifacts exist for `photos` and `size` (see pixelFiles). */
  workdir: string;
  photos: string;
  size: number;
  base: BaseName;
  weights: string;
  backend: BackendRequest;
  /** Worker threads (tfjs engines), or ONNX Runtime sessions. */
  workers: number;
  /** ONNX Runtime threads in all. */
  threads: number;
  /** ONNX Runtime sessions (0: the stage's default layout). */
  sessions: number;
  batchSize: number;
}

/** `photos` shared photos (every class in turn), as a folder of links that ingest follows. */
function photoSubset(scratch: string, photos: number): string {
  const dir = path.join(scratch, `photos-${photos}`);
  const files = readdirSync(FLOWERS, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name)).sort();
  const step = Math.floor(files.length / photos);
  for (const file of files.filter((_, i) => i % step === 0).slice(0, photos)) {
    const link = path.join(dir, path.relative(FLOWERS, file));
    mkdirSync(path.dirname(link), { recursive: true });
    symlinkSync(file, link);
  }
  return dir;
}

/** The options of one measurement, as the CLI would take them. */
function optionsOf(config: Pick<Config, 'photos' | 'size'> & Partial<Config>): Record<string, unknown> {
  return {
    data: config.photos,
    size: config.size,
    ...(config.base ? { base: config.base, alpha: 0.35, pool: 'avg', weights: config.weights, backend: config.backend } : {}),
    ...(config.workers ? { workers: config.workers, threads: config.threads, inferenceBatch: config.batchSize } : {}),
    ...(config.sessions ? { onnxSessions: config.sessions } : {}),
  };
}

/** One configuration, in this process: the features stage rebuilt through the pipeline. */
async function measure(config: Config): Promise<Record<string, unknown>> {
  const { features } = await runStagesFor(optionsOf(config), 'features', config.workdir, ['features']);
  const { manifest } = features!;
  const rows = Object.values(manifest.rows).reduce((a, b) => a + b, 0);
  return {
    base: config.base,
    backend: manifest.backend,
    layout: manifest.extra?.onnx_threads_per_session === undefined ? `${config.workers} worker(s)` : `${String(manifest.extra.workers)} session(s) x ${String(manifest.extra.onnx_threads_per_session)} thread(s)`,
    batch_size: config.batchSize,
    images: rows,
    images_per_s: manifest.timings.images_per_s,
    weights_and_export_s: manifest.timings.weights_s,
    peak_rss_mib: Math.round(process.resourceUsage().maxRSS / 1024),
  };
}

function inChild(config: Config, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const args = [config.workdir, config.photos, config.size, config.base, config.weights, config.backend, config.workers, config.threads, config.sessions, config.batchSize].map(String);
  const result = spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), fileURLToPath(import.meta.url), ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    env,
  });
  if (result.status !== 0) throw new Error(`bench/features.ts ${args.join(' ')} failed with exit code ${result.status}`);
  return JSON.parse(result.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
}

const ratio = (a: unknown, b: unknown): number => Math.round((Number(a) / Number(b)) * 100) / 100;

/**
 * InceptionV3 at 150 px (nsfwjs weights, offline) and MobileNetV2 0.35 at 224 px (the shared
 * weights): tfjs-wasm with one worker per core, and ONNX Runtime as one session using every core
 * or one single-threaded session per core; the PyTorch peer's InceptionV3 features at 150 px.
 */
export async function benchFeatures({ batchSize = 32 }: { batchSize?: number } = {}): Promise<Record<string, unknown>> {
  const cores = os.availableParallelism();
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'bench-pixels-'));
  // A cache of our own, so every run exports the ONNX graphs the same way (outside the timing).
  const env = { ...process.env, FLOWERS_PIPELINE_CACHE: path.join(scratch, 'cache') };
  try {
    const models = [
      // Enough photos that session start-up (part of the stage) is a small share of the time.
      { name: 'inception_v3_150', base: 'inception_v3' as const, size: 150, weights: 'nsfwjs-inception', photos: 960 },
      { name: 'mobilenet_v2_035_224', base: 'mobilenet_v2' as const, size: 224, weights: SHARED_MOBILENET, photos: 2400 },
    ];
    const report: Record<string, Record<string, unknown>> = {};
    for (const model of models) {
      const workdir = path.join(scratch, `workdir-${model.name}`);
      const photos = photoSubset(scratch, model.photos);
      await runStagesFor(optionsOf({ photos, size: model.size }), 'augment', workdir);
      const run = (backend: BackendRequest, sessions = 0): Record<string, unknown> =>
        inChild({ workdir, photos, size: model.size, base: model.base, weights: model.weights, backend, workers: cores, threads: cores, sessions, batchSize }, env);
      const rows: Record<string, unknown> = {
        wasm: run('wasm'),
        onnx_one_session: run('onnx', 1),
        onnx_session_per_core: run('onnx', cores),
      };
      rows.onnx_default = run('onnx');
      rows.onnx_default_over_wasm = ratio((rows.onnx_default as Record<string, unknown>).images_per_s, (rows.wasm as Record<string, unknown>).images_per_s);
      report[model.name] = rows;
    }
    const peer = peerBenchmark(['inception_v3_features_150'], cores);
    const inception = report.inception_v3_150!;
    inception.peer = peer.inception_v3_features_150;
    inception.onnx_default_over_peer = ratio((inception.onnx_default as Record<string, unknown>).images_per_s, (peer.inception_v3_features_150 as Record<string, unknown> | undefined)?.images_per_s_median);
    return report;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [workdir, photos, size, base, weights, backend, workers, threads, sessions, batchSize] = process.argv.slice(2);
  if (batchSize === undefined) {
    process.stdout.write(`${JSON.stringify(await benchFeatures(), null, 2)}\n`);
  } else {
    const config = { workdir: workdir!, photos: photos!, size: Number(size), base: base as BaseName, weights: weights!, backend: backend as BackendRequest, workers: Number(workers), threads: Number(threads), sessions: Number(sessions), batchSize: Number(batchSize) };
    process.stdout.write(`${JSON.stringify(await measure(config))}\n`);
  }
}
