import * as tf from '@tensorflow/tfjs';
import { selectBackend, createRandom } from '@flowers/core';
import { registerTrainingKernels } from '../src/kernels/index.ts';
await selectBackend('wasm'); registerTrainingKernels();
const layersSets: Record<string, () => tf.layers.Layer[]> = {
  full: () => [tf.layers.conv2d({ inputShape: [12, 12, 3], filters: 4, kernelSize: 3, activation: 'relu' }),
    tf.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'same', useBias: false }),
    tf.layers.batchNormalization(), tf.layers.reLU({ maxValue: 6 }), tf.layers.conv2d({ filters: 6, kernelSize: 1 }),
    tf.layers.maxPooling2d({ poolSize: 2 }), tf.layers.flatten(), tf.layers.dense({ units: 3, activation: 'softmax' })],
  noBN: () => [tf.layers.conv2d({ inputShape: [12, 12, 3], filters: 4, kernelSize: 3, activation: 'relu' }),
    tf.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'same', useBias: false }),
    tf.layers.reLU({ maxValue: 6 }), tf.layers.conv2d({ filters: 6, kernelSize: 1 }),
    tf.layers.maxPooling2d({ poolSize: 2 }), tf.layers.flatten(), tf.layers.dense({ units: 3, activation: 'softmax' })],
  bnOnly: () => [tf.layers.conv2d({ inputShape: [12, 12, 3], filters: 4, kernelSize: 3 }), tf.layers.batchNormalization(),
    tf.layers.flatten(), tf.layers.dense({ units: 3, activation: 'softmax' })],
  poolOnly: () => [tf.layers.conv2d({ inputShape: [12, 12, 3], filters: 4, kernelSize: 3 }), tf.layers.maxPooling2d({ poolSize: 2 }),
    tf.layers.flatten(), tf.layers.dense({ units: 3, activation: 'softmax' })],
};
const r = createRandom('x');
const xv = Float32Array.from({ length: 6 * 12 * 12 * 3 }, () => r.uniform(-1, 1));
for (const [name, mk] of Object.entries(layersSets)) {
  await selectBackend('cpu');
  const ref = tf.sequential({ layers: mk() });
  const init = ref.getWeights().map((w) => [w.shape, w.dataSync().slice()] as const);
  const res: Record<string, Float32Array[]> = {};
  for (const be of ['cpu', 'wasm'] as const) {
    await selectBackend(be);
    const m = tf.sequential({ layers: mk() });
    m.setWeights(init.map(([s, v]) => tf.tensor(v, s)));
    const xs = tf.tensor(xv, [6, 12, 12, 3]); const ys = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2], 'int32'), 3);
    const { grads } = tf.variableGrads(() => tf.metrics.categoricalCrossentropy(ys, m.apply(xs, { training: true }) as tf.Tensor).mean() as tf.Scalar);
    res[be] = m.trainableWeights.map((w) => grads[w.originalName ?? w.name]!.dataSync().slice() as Float32Array);
    console.log(be, Object.keys(grads).join(','));
  }
  res.cpu!.forEach((c, k) => {
    const w = res.wasm![k]!; let worst = 0, scale = 0;
    for (let i = 0; i < c.length; i++) { worst = Math.max(worst, Math.abs(c[i]! - w[i]!)); scale = Math.max(scale, Math.abs(c[i]!)); }
    console.log(name, k, 'rel', (worst / scale).toExponential(2), 'scale', scale.toExponential(2));
  });
}
