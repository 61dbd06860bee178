import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '@flowers/core/tf';
for (const be of ['wasm', 'cpu'] as const) {
  await selectBackend(be);
  const M = 165888;
  const a = tf.randomNormal([M, 32]); const b = tf.randomNormal([M, 64]);
  const at = tf.randomNormal([32, M]); const bt = tf.randomNormal([64, M]);
  for (const [label, f] of [
    ['aT b', () => tf.matMul(a, b, true, false)],
    ['at bT', () => tf.matMul(at, bt, false, true)],
    ['bt a', () => tf.matMul(bt, a, false, false)],
    ['transpose a', () => tf.transpose(a)],
  ] as const) {
    const r0 = f(); await r0.data(); r0.dispose();
    const t = performance.now(); const r = f(); await r.data(); r.dispose();
    const ms = performance.now() - t;
    console.log(be, label, ms.toFixed(1), 'ms', (2 * M * 32 * 64 / ms / 1e6).toFixed(2), 'GFLOP/s');
  }
  // conv forward for comparison
  const x = tf.randomNormal([32, 74, 74, 32]); const w = tf.randomNormal([3, 3, 32, 64]);
  const c0 = tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'valid'); await c0.data(); c0.dispose();
  const t = performance.now(); const c = tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'valid'); await c.data(); c.dispose();
  console.log(be, 'conv fwd', (performance.now() - t).toFixed(1), 'ms');
  if (be === 'wasm') {
    const s0 = tf.slice(x, [0, 1, 1, 0], [32, 72, 72, 32]); s0.dispose();
    const t2 = performance.now(); const s = tf.slice(x, [0, 1, 1, 0], [32, 72, 72, 32]); await s.data(); s.dispose();
    console.log(be, 'slice', (performance.now() - t2).toFixed(1), 'ms');
    const t3 = performance.now(); const s3 = tf.stridedSlice(x, [0, 1, 1, 0], [32, 73, 73, 32], [1, 1, 1, 1]); await s3.data(); s3.dispose();
    console.log(be, 'strided slice', (performance.now() - t3).toFixed(1), 'ms');
    const t4 = performance.now(); const s4 = tf.stridedSlice(x, [0, 1, 1, 0], [32, 73, 73, 32], [1, 2, 2, 1]); await s4.data(); s4.dispose();
    console.log(be, 'strided slice s2', (performance.now() - t4).toFixed(1), 'ms');
  }
  tf.dispose([a, b, at, bt, x, w]);
}
