import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '@flowers/core/tf';
await selectBackend('wasm');
for (const [shape, k] of [[[32, 74, 74, 32], 3], [[32, 150, 150, 3], 3]] as const) {
  const x = tf.randomNormal([...shape]) as tf.Tensor4D;
  const C = shape[3];
  const eye = tf.tidy(() => tf.oneHot(tf.range(0, k * k, 1, 'int32'), k * k).reshape([k, k, 1, k * k]).tile([1, 1, C, 1]).toFloat()) as tf.Tensor4D;
  for (let r = 0; r < 2; r++) {
    const t = performance.now(); const p = tf.depthwiseConv2d(x, eye, 1, 'valid'); await p.data();
    const t1 = performance.now();
    const dy = tf.randomNormal([p.shape[0] * p.shape[1] * p.shape[2], 64]);
    const t2 = performance.now();
    const dyT = tf.transpose(dy); const pm = p.reshape([-1, C * k * k]); const g = tf.matMul(dyT, pm); await g.data();
    console.log(shape, 'patches', (t1 - t).toFixed(0), 'ms; transpose+matmul', (performance.now() - t2).toFixed(0), 'ms');
    tf.dispose([p, dy, dyT, pm, g]);
  }
}
