/**
 * One training step (forward, gradients, RMSprop update) of the Keras scratch CNN on 150x150x3
 * images: wasm with the training kernels registered, against the pure-JavaScript cpu backend.
 * The cpu backend is ~100x slower, so it runs a smaller batch; per-image times compare the two.
 */
import { createRequire } from 'node:module';
import { selectBackend } from '../packages/core/src/tf.ts';
import { registerTrainingKernels } from '../packages/train/src/kernels/index.ts';

// bench/ has no dependencies of its own: load the train package's TensorFlow.js (the same
// module instance the kernels register into).
type TensorFlow = typeof import('../packages/train/node_modules/@tensorflow/tfjs/dist/index.js');
const tf: TensorFlow = createRequire(new URL('../packages/train/package.json', import.meta.url))('@tensorflow/tfjs');
type LayersModel = ReturnType<TensorFlow['sequential']>;
type Scalar = ReturnType<TensorFlow['scalar']>;
type Tensor = ReturnType<TensorFlow['tensor']>;

const SIZE = 150;
const CLASSES = 5;

function scratchCnn(): LayersModel {
  const conv = (filters: number, inputShape?: number[]) =>
    tf.layers.conv2d({ filters, kernelSize: 3, activation: 'relu', ...(inputShape ? { inputShape } : {}) });
  return tf.sequential({
    layers: [
      conv(32, [SIZE, SIZE, 3]), tf.layers.maxPooling2d({ poolSize: 2 }),
      conv(64), tf.layers.maxPooling2d({ poolSize: 2 }),
      conv(128), tf.layers.maxPooling2d({ poolSize: 2 }),
      conv(128), tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dropout({ rate: 0.5 }),
      tf.layers.dense({ units: 512, activation: 'relu' }),
      tf.layers.dense({ units: CLASSES, activation: 'softmax' }),
    ],
  });
}

/** Mean ms of `steps` timed training steps after one untimed warm-up step. */
async function msPerStep(backend: 'wasm' | 'cpu', batchSize: number, steps: number): Promise<number> {
  await selectBackend(backend);
  const model = scratchCnn();
  const xs = tf.randomUniform([batchSize, SIZE, SIZE, 3]);
  const ys = tf.oneHot(tf.tensor1d(Array.from({ length: batchSize }, (_, i) => i % CLASSES), 'int32'), CLASSES);
  const optimizer = tf.train.rmsprop(1e-4);
  const step = async () => {
    const loss = optimizer.minimize(
      () => tf.metrics.categoricalCrossentropy(ys, model.apply(xs, { training: true }) as Tensor).mean() as Scalar, true)!;
    await loss.data();
    loss.dispose();
  };
  await step();
  const start = performance.now();
  for (let i = 0; i < steps; i++) await step();
  const ms = (performance.now() - start) / steps;
  tf.dispose([xs, ys]);
  optimizer.dispose();
  model.dispose();
  return ms;
}

export async function benchKernels(wasmSteps = 3, cpuBatchSize = 2): Promise<Record<string, unknown>> {
  await selectBackend('wasm');
  registerTrainingKernels();
  const wasmBatchSize = 32;
  const wasmMs = await msPerStep('wasm', wasmBatchSize, wasmSteps);
  const cpuMs = await msPerStep('cpu', cpuBatchSize, 1);
  return {
    image_size: SIZE,
    wasm_batch_size: wasmBatchSize,
    wasm_ms_per_step: wasmMs,
    wasm_ms_per_image: wasmMs / wasmBatchSize,
    cpu_batch_size: cpuBatchSize,
    cpu_ms_per_step: cpuMs,
    cpu_ms_per_image: cpuMs / cpuBatchSize,
    wasm_speedup_per_image: cpuMs / cpuBatchSize / (wasmMs / wasmBatchSize),
  };
}
