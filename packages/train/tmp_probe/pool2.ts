import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '@flowers/core/tf';
for (const c of [1, 2]) for (const be of ['cpu', 'wasm'] as const) {
  await selectBackend(be);
  const x = tf.tensor4d([3, 1, 2, 7,  5, 0, 4, 1,  9, 2, 8, 6,  1, 3, 0, 2].flatMap((v) => Array.from({ length: c }, (_, k) => v + k * (k ? -v*2 : 0))), [1, 4, 4, c]);
  const dy = tf.tensor4d(Array.from({ length: 4 * c }, (_, i) => i + 1), [1, 2, 2, c]);
  const [g] = tf.grads((a) => tf.maxPool(a as tf.Tensor4D, 2, 2, 'valid'))([x], dy);
  console.log(c, be, Array.from(g!.dataSync()).join(' '));
}
