import * as tf from '@tensorflow/tfjs';
import { selectBackend, createRandom } from '@flowers/core';
const r = createRandom('p');
const shape = [2, 6, 6, 3] as const;
const xv = Float32Array.from({ length: 2 * 6 * 6 * 3 }, () => r.uniform(-1, 1));
const dyv = Float32Array.from({ length: 2 * 3 * 3 * 3 }, () => r.uniform(-1, 1));
const out: Record<string, Float32Array> = {};
for (const be of ['cpu', 'wasm'] as const) {
  await selectBackend(be);
  const x = tf.tensor4d(xv, [...shape]); const dy = tf.tensor4d(dyv, [2, 3, 3, 3]);
  const [g] = tf.grads((a) => tf.maxPool(a as tf.Tensor4D, 2, 2, 'valid'))([x], dy);
  out[be] = g!.dataSync().slice() as Float32Array;
  const [ga] = tf.grads((a) => tf.avgPool(a as tf.Tensor4D, 3, 1, 'same'))([x], tf.randomUniform([2,6,6,3], -1, 1, 'float32', 5));
  out[be + 'avg'] = ga!.dataSync().slice() as Float32Array;
}
// manual reference
const ref = new Float32Array(xv.length);
for (let n = 0; n < 2; n++) for (let y = 0; y < 3; y++) for (let x = 0; x < 3; x++) for (let c = 0; c < 3; c++) {
  let best = -Infinity, bi = -1;
  for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) { const idx = ((n * 6 + y * 2 + i) * 6 + x * 2 + j) * 3 + c; if (xv[idx]! > best) { best = xv[idx]!; bi = idx; } }
  ref[bi] += dyv[((n * 3 + y) * 3 + x) * 3 + c]!;
}
const d = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
console.log('cpu vs ref', d(out.cpu!, ref), 'wasm vs ref', d(out.wasm!, ref), 'avg cpu vs wasm', d(out.cpuavg!, out.wasmavg!));
