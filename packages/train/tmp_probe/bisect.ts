import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '@flowers/core/tf';
import { createRandom } from '@flowers/core';
import { registerTrainingKernels } from '../src/kernels/index.ts';
await selectBackend('wasm'); registerTrainingKernels();
const L = tf.layers;
const sets: Record<string, () => tf.layers.Layer[]> = {
  conv: () => [L.conv2d({ inputShape: [6, 6, 4], filters: 3, kernelSize: 1, useBias: false })],
  convBN: () => [L.conv2d({ inputShape: [6, 6, 4], filters: 3, kernelSize: 1, useBias: false }), L.batchNormalization()],
  convRelu6: () => [L.conv2d({ inputShape: [6, 6, 4], filters: 3, kernelSize: 1, useBias: false }), L.reLU({ maxValue: 6 })],
  convRelu: () => [L.conv2d({ inputShape: [6, 6, 4], filters: 3, kernelSize: 1, useBias: false, activation: 'relu' })],
  conv3: () => [L.conv2d({ inputShape: [6, 6, 4], filters: 3, kernelSize: 3, useBias: true })],
  dw: () => [L.depthwiseConv2d({ inputShape: [6, 6, 4], kernelSize: 3, padding: 'same', useBias: false })],
  gap: () => [L.conv2d({ inputShape: [6, 6, 4], filters: 3, kernelSize: 1 }), L.globalAveragePooling2d({})],
};
const r = createRandom('x');
const xv = Float32Array.from({ length: 3 * 6 * 6 * 4 }, () => r.uniform(-1, 1));
for (const [name, mk] of Object.entries(sets)) {
  await selectBackend('cpu');
  const ref = tf.sequential({ layers: mk() });
  const init = ref.getWeights().map((w) => [w.shape, w.dataSync().slice()] as const);
  const res: Record<string, Float32Array[]> = {};
  for (const be of ['cpu', 'wasm'] as const) {
    await selectBackend(be);
    const m = tf.sequential({ layers: mk() });
    m.setWeights(init.map(([s, v]) => tf.tensor(v, s)));
    const xs = tf.tensor(xv, [3, 6, 6, 4]);
    const vars = m.trainableWeights.map((w) => w.read() as tf.Variable);
    const { value, grads } = tf.variableGrads(() => (m.apply(xs, { training: true }) as tf.Tensor).square().sum() as tf.Scalar, vars);
    res[be] = [value.dataSync().slice() as Float32Array, ...vars.map((v) => grads[v.name]!.dataSync().slice() as Float32Array)];
  }
  res.cpu!.forEach((c, k) => {
    const w = res.wasm![k]!; let worst = 0, scale = 0;
    for (let i = 0; i < c.length; i++) { worst = Math.max(worst, Math.abs(c[i]! - w[i]!)); scale = Math.max(scale, Math.abs(c[i]!)); }
    console.log(name, k, 'rel', (worst / scale).toExponential(2), 'scale', scale.toExponential(2));
  });
}
