import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '@flowers/core/tf';
await selectBackend('wasm');
const h = 17, cin = 768, cout = 192, k = 1, n = 8;
const x = tf.randomUniform([n, h, h, cin]) as tf.Tensor4D;
const w = tf.randomUniform([k, k, cin, cout]) as tf.Tensor4D;
const b = tf.randomUniform([cout]);
const variants: Record<string, () => tf.Tensor> = {
  conv2d: () => tf.conv2d(x, w, 1, 'same'),
  fused_bias_relu: () => tf.fused.conv2d({ x, filter: w, bias: b, strides: 1, pad: 'same', activation: 'relu' }),
  matmul: () => tf.matMul(x.reshape([n * h * h, cin]), w.reshape([cin, cout])),
};
for (const [name, f] of Object.entries(variants)) {
  tf.tidy(() => { f().dataSync(); });
  const times: number[] = [];
  for (let i = 0; i < 5; i++) { const t = performance.now(); tf.tidy(() => { f().dataSync(); }); times.push(performance.now() - t); }
  const macs = n * h * h * cin * cout * k * k;
  console.log(name, times.map((t) => t.toFixed(0)).join(' '), 'ms', (macs / (Math.min(...times) / 1000) / 1e9).toFixed(2), 'GMAC/s');
}
