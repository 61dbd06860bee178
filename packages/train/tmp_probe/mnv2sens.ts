import * as tf from '@tensorflow/tfjs';
import { selectBackend, fileIOHandler } from '@flowers/core/tf';
import { registerTrainingKernels } from '../src/kernels/index.ts';
await selectBackend('wasm'); registerTrainingKernels();
const base = await tf.loadLayersModel(fileIOHandler('/work/shared/models/mobilenet_v2_0.35_imagenet/model.json'));
const vars = base.trainableWeights.map((w) => w.read() as tf.Variable);
const run = (eps: number) => {
  const xv = Float32Array.from({ length: 2 * 224 * 224 * 3 }, (_, i) => Math.sin(i * 0.37) * 0.9 * (1 + eps * Math.cos(i)));
  const xs = tf.tensor4d(xv, [2, 224, 224, 3]);
  const { value, grads } = tf.variableGrads(() => (base.apply(xs, { training: true }) as tf.Tensor).mean([1, 2]).square().sum() as tf.Scalar, vars);
  const r = vars.map((v) => grads[v.name]!.dataSync().slice() as Float32Array);
  tf.dispose([xs, value]); tf.dispose(grads);
  return r;
};
const a = run(0), b = run(1e-6);
for (const k of [0, 6, 100, 153]) {
  const c = a[k]!, w = b[k]!; let worst = 0, scale = 0;
  for (let i = 0; i < c.length; i++) { worst = Math.max(worst, Math.abs(c[i]! - w[i]!)); scale = Math.max(scale, Math.abs(c[i]!)); }
  console.log(k + 1, vars[k]!.name, 'rel change from 1e-6 input noise', (worst / scale).toExponential(2));
}
