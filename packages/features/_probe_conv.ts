import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '@flowers/core/tf';
console.log(await selectBackend((process.argv[2] ?? 'wasm') as 'wasm'), tf.getBackend());
for (const [h, cin, cout, k] of [[17, 768, 192, 1], [35, 64, 96, 3], [74, 32, 64, 3]] as const) {
  const x = tf.randomUniform([8, h, h, cin]);
  const w = tf.randomUniform([k, k, cin, cout]);
  const b = tf.randomUniform([cout]);
  const run = () => tf.tidy(() => tf.fused.conv2d({ x: x as tf.Tensor4D, filter: w as tf.Tensor4D, bias: b, strides: 1, pad: 'same', activation: 'relu' }).dataSync());
  run();
  const t = performance.now();
  for (let i = 0; i < 5; i++) run();
  const s = (performance.now() - t) / 5 / 1000;
  const macs = 8 * h * h * cin * cout * k * k;
  console.log(h, cin, cout, k, (macs / s / 1e9).toFixed(2), 'GMAC/s');
}
