import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '@flowers/core/tf';
import { registerTrainingKernels } from '../src/kernels/index.ts';
await selectBackend('wasm'); registerTrainingKernels();
const cases: Array<[string, number[], number[], number, string]> = [
  ['conv', [2, 7, 7, 112], [1, 1, 112, 1280], 1, 'same'],
  ['conv', [2, 7, 7, 56], [1, 1, 56, 336], 1, 'same'],
  ['conv', [2, 14, 14, 32], [3, 3, 32, 64], 2, 'same'],
  ['conv', [2, 112, 112, 16], [1, 1, 16, 8], 1, 'same'],
  ['conv', [2, 225, 225, 3], [3, 3, 3, 16], 2, 'valid'],
  ['dw', [2, 7, 7, 336], [3, 3, 336, 1], 1, 'same'],
  ['dw', [2, 14, 14, 192], [3, 3, 192, 1], 2, 'same'],
  ['dw', [2, 112, 112, 16], [3, 3, 16, 1], 1, 'same'],
];
for (const [kind, xs, ws, s, pad] of cases) {
  const out: Record<string, Float32Array[]> = {};
  for (const be of ['cpu', 'wasm']) {
    await selectBackend(be as 'cpu');
    const x = tf.tensor(Float32Array.from({ length: xs.reduce((a, b) => a * b) }, (_, i) => Math.sin(i * 0.7)), xs) as tf.Tensor4D;
    const w = tf.tensor(Float32Array.from({ length: ws.reduce((a, b) => a * b) }, (_, i) => Math.cos(i * 1.3)), ws) as tf.Tensor4D;
    const f = (a: tf.Tensor, b: tf.Tensor) => kind === 'conv' ? tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, s, pad as 'same') : tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, s, pad as 'same');
    const y = f(x, w);
    const dy = tf.tensor(Float32Array.from({ length: y.size }, (_, i) => Math.sin(i * 0.11)), y.shape);
    const t = performance.now();
    const g = tf.grads(f)([x, w], dy);
    out[be] = [y.dataSync().slice() as Float32Array, ...g.map((t) => t.dataSync().slice() as Float32Array)];
    if (be === 'wasm') console.log(kind, xs, ws, 'wasm grad ms', (performance.now() - t).toFixed(0));
  }
  console.log(out.cpu!.map((c, k) => { const w = out.wasm![k]!; let worst = 0, scale = 0; for (let i = 0; i < c.length; i++) { worst = Math.max(worst, Math.abs(c[i]! - w[i]!)); scale = Math.max(scale, Math.abs(c[i]!)); } return (worst / scale).toExponential(1); }).join(' '));
}
