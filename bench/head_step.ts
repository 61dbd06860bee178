/**
 * One training epoch of the reference `features` head (Dense 512 on a flattened 7x7x1280
 * MobileNetV2 map, batch 32, RMSprop) on the onnx engine, as the training loop runs it: 58 steps
 * over 1,854 rows, then validation over 618 rows. Random inputs, so no data loading is timed;
 * two warm-up steps (ONNX Runtime plans its memory on its first calls) are not timed. Prints JSON.
 *   node --import tsx bench/head_step.ts [epochs]
 */
import { createRequire } from 'node:module';
import { memoryLogger } from '../packages/core/src/index.ts';
import { selectBackend } from '../packages/core/src/tf.ts';
import { buildClassifier, createTrainingEngine, resolveTrainConfig } from '../packages/train/src/index.ts';
import { CLASSES, TRAIN_ROWS, WORKLOADS } from './training.ts';
import { median, round } from './stats.ts';

type TensorFlow = typeof import('../packages/train/node_modules/@tensorflow/tfjs/dist/index.js');
const tf: TensorFlow = createRequire(new URL('../packages/train/package.json', import.meta.url))('@tensorflow/tfjs');

/** The shared photos' validation split: 20% of 3,090. */
const VALIDATION_ROWS = 618;
const epochs = Number(process.argv[2] ?? 1);

const { config: values, rowShape } = WORKLOADS.features_head;
const config = resolveTrainConfig(values);
const model = buildClassifier(config, { inputShape: rowShape, numClasses: CLASSES });
const engine = await createTrainingEngine(model, config, { backend: await selectBackend('onnx'), labelCounts: new Int32Array(CLASSES).fill(1), log: memoryLogger() });
const batchOf = (n: number) => {
  const labels = Int32Array.from({ length: n }, (_, i) => i % CLASSES);
  return { x: tf.randomUniform([n, ...rowShape]), y: tf.oneHot(tf.tensor1d(labels, 'int32'), CLASSES).toFloat(), n, labels };
};
const full = batchOf(config.batchSize);
const last = batchOf(TRAIN_ROWS % config.batchSize);
const validationLast = batchOf(VALIDATION_ROWS % config.batchSize);
const steps = Math.ceil(TRAIN_ROWS / config.batchSize);
for (let step = 0; step < 2; step++) await engine.step(full as never, config.lr, [0, step]);

const stepMs: number[] = [];
const epochS: number[] = [];
const validationS: number[] = [];
for (let epoch = 0; epoch < epochs; epoch++) {
  const started = performance.now();
  for (let step = 0; step < steps; step++) {
    const t = performance.now();
    await engine.step((step === steps - 1 ? last : full) as never, config.lr, [1, epoch, step]);
    stepMs.push(performance.now() - t);
  }
  const validating = performance.now();
  for (let row = 0; row < VALIDATION_ROWS; row += config.batchSize) {
    const n = Math.min(config.batchSize, VALIDATION_ROWS - row);
    await engine.predict(n === full.n ? full.x : validationLast.x, n);
  }
  validationS.push((performance.now() - validating) / 1000);
  epochS.push((performance.now() - started) / 1000);
}
engine.dispose();
process.stdout.write(
  `${JSON.stringify({
    workload: 'features_head',
    engine: engine.name,
    steps_per_epoch: steps,
    step_ms_median: round(median(stepMs), 1),
    validation_s: round(median(validationS), 2),
    epoch_s: round(median(epochS), 2),
    epoch_s_min: round(Math.min(...epochS), 2),
    peak_rss_mib: Math.round(process.resourceUsage().maxRSS / 1024),
  })}\n`,
);
