/**
 * Training throughput through the pipeline's own engines and models, beside the PyTorch peer in
 * the same run: the scratch CNN (batch 128, 150 px), the reference `features` head (Dense 512
 * on a flattened 7x7x1280 MobileNetV2 map, batch 32, as an epoch over 1,854 rows) and InceptionV3's
 * top (mixed9, mixed10 and the head, from mixed8 activations, batch 32). Random inputs, so no
 * data loading is timed; the first steps (ONNX Runtime plans its memory on its first two calls,
 * tfjs builds its kernels) are not timed. Each measurement runs in a fresh process.
 *   benchTraining()
 *   node --import tsx bench/training.ts <scratch|features_head|finetune> <onnx|wasm> <timed steps>
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { memoryLogger } from '../packages/core/src/index.ts';
import { selectBackend } from '../packages/core/src/tf.ts';
import { buildBase, splitAtLayer } from '../packages/features/src/index.ts';
import { buildClassifier, createTrainingEngine, resolveTrainConfig, type TrainConfig } from '../packages/train/src/index.ts';
import { peerBenchmark } from './peer.ts';

// bench/ has no dependencies of its own: the train package's TensorFlow.js is the instance its models use.
type TensorFlow = typeof import('../packages/train/node_modules/@tensorflow/tfjs/dist/index.js');
const tf: TensorFlow = createRequire(new URL('../packages/train/package.json', import.meta.url))('@tensorflow/tfjs');

export const WORKLOADS = {
  scratch: { config: { input: 'pixels', head: 'scratch_cnn', batchSize: 128, optimizer: 'rmsprop', lr: 1e-3 }, rowShape: [150, 150, 3] },
  features_head: { config: { input: 'features', head: 'dense512', batchSize: 32, optimizer: 'rmsprop', lr: 1.5e-6, dropout: 0.5 }, rowShape: [7, 7, 1280] },
  finetune: { config: { input: 'cut', head: 'dropout_dense64', batchSize: 32, optimizer: 'rmsprop', lr: 1e-5, dropout: 0.2 }, rowShape: [3, 3, 1280] },
} as const;
export type Workload = keyof typeof WORKLOADS;
/** The shared photos' training split: 60% of 3,090. */
export const TRAIN_ROWS = 1854;
export const CLASSES = 5;

async function measure(workload: Workload, engineName: 'onnx' | 'wasm', timedSteps: number): Promise<Record<string, unknown>> {
  const backend = await selectBackend(engineName);
  const { config: values, rowShape } = WORKLOADS[workload];
  const config: TrainConfig = resolveTrainConfig(values);
  const baseTop = workload === 'finetune' ? splitAtLayer(buildBase('inception_v3', { inputSize: 150 }), 'mixed8').top : undefined;
  const model = buildClassifier(config, { inputShape: rowShape, numClasses: CLASSES, ...(baseTop ? { baseTop } : {}) });
  const engine = await createTrainingEngine(model, config, { backend, labelCounts: new Int32Array(CLASSES).fill(1), log: memoryLogger() });
  const n = config.batchSize;
  const labels = Int32Array.from({ length: n }, (_, i) => i % CLASSES);
  const batch = { x: tf.randomUniform([n, ...rowShape]), y: tf.oneHot(tf.tensor1d(labels, 'int32'), CLASSES).toFloat(), n, labels };
  for (let step = 0; step < 2; step++) await engine.step(batch as never, config.lr, [0, step]);
  const started = performance.now();
  for (let step = 0; step < timedSteps; step++) await engine.step(batch as never, config.lr, [1, step]);
  const stepSeconds = (performance.now() - started) / 1000 / timedSteps;
  engine.dispose();
  return {
    workload,
    engine: engine.name,
    batch_size: n,
    timed_steps: timedSteps,
    step_s: Math.round(stepSeconds * 1000) / 1000,
    images_per_s: Math.round((n / stepSeconds) * 10) / 10,
    epoch_s: Math.round(Math.ceil(TRAIN_ROWS / n) * stepSeconds * 10) / 10,
    peak_rss_mib: Math.round(process.resourceUsage().maxRSS / 1024),
  };
}

function inChild(workload: Workload, engine: 'onnx' | 'wasm', timedSteps: number): Record<string, unknown> {
  const result = spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), fileURLToPath(import.meta.url), workload, engine, String(timedSteps)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (result.status !== 0) throw new Error(`bench/training.ts ${workload} ${engine} failed with exit code ${result.status}`);
  return JSON.parse(result.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
}

const ratio = (a: unknown, b: unknown): number => Math.round((Number(a) / Number(b)) * 100) / 100;

/** Each workload on the onnx engine (where it trains there) and on wasm, with the peer's figures. */
export function benchTraining(): Record<string, unknown> {
  const peer = peerBenchmark(['simple_cnn_train', 'inception_v3_top_train_150'], os.availableParallelism());
  const peerRate = (name: string): unknown => (peer[name] as Record<string, unknown> | undefined)?.images_per_s_median;
  const scratch = { onnx: inChild('scratch', 'onnx', 4), wasm: inChild('scratch', 'wasm', 1), peer: peer.simple_cnn_train ?? peer.error };
  const head = { onnx: inChild('features_head', 'onnx', 58), wasm: inChild('features_head', 'wasm', 3) };
  const finetune = { onnx: inChild('finetune', 'onnx', 4), wasm: inChild('finetune', 'wasm', 2), peer: peer.inception_v3_top_train_150 ?? peer.error };
  return {
    scratch_cnn_150_batch_128: { ...scratch, onnx_over_peer: ratio(scratch.onnx.images_per_s, peerRate('simple_cnn_train')), onnx_over_wasm: ratio(scratch.onnx.images_per_s, scratch.wasm.images_per_s) },
    features_head_dense512_7x7x1280_batch_32: { ...head, onnx_over_wasm: ratio(head.onnx.images_per_s, head.wasm.images_per_s) },
    finetune_mixed9_mixed10_150_batch_32: { ...finetune, onnx_over_peer: ratio(finetune.onnx.images_per_s, peerRate('inception_v3_top_train_150')), onnx_over_wasm: ratio(finetune.onnx.images_per_s, finetune.wasm.images_per_s) },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [workload, engine, steps] = process.argv.slice(2);
  if (steps === undefined) process.stdout.write(`${JSON.stringify(benchTraining(), null, 2)}\n`);
  else process.stdout.write(`${JSON.stringify(await measure(workload as Workload, engine as 'onnx' | 'wasm', Number(steps)))}\n`);
}
