/**
 * One training step (forward, gradients, RMSprop update) of the Keras scratch CNN on 150x150x3
 * images: wasm with the training kernels registered, against the pure-JavaScript cpu backend.
 * tfjs's cpu Conv2DBackpropFilter is extremely slow (about 90 s per 150x150 image for this model),
 * so cpu times a single step on a small batch, without warm-up; per-image times compare the two.
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

/** Mean ms of `steps` timed training steps, after one untimed step if `warmUp`. */
async function msPerStep(backend: 'wasm' | 'cpu', batchSize: number, steps: number, warmUp: boolean): Promise<number> {
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
  if (warmUp) await step();
  const start = performance.now();
  for (let i = 0; i < steps; i++) await step();
  const ms = (performance.now() - start) / steps;
  tf.dispose([xs, ys]);
  optimizer.dispose();
  model.dispose();
  return ms;
}

export async function benchKernels(wasmSteps = 2, cpuBatchSize = 1): Promise<Record<string, unknown>> {
  await selectBackend('wasm');
  registerTrainingKernels();
  const wasmBatchSize = 32;
  // wasm's first step also creates XNNPACK operators; cpu has nothing to warm up.
  const wasmMs = await msPerStep('wasm', wasmBatchSize, wasmSteps, true);
  const cpuMs = await msPerStep('cpu', cpuBatchSize, 1, false);
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
