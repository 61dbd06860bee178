import * as tf from '@tensorflow/tfjs';
import { selectBackend, fileIOHandler } from '@flowers/core/tf';
import { registerTrainingKernels } from '../src/kernels/index.ts';
await selectBackend('wasm'); registerTrainingKernels();
const xv = Float32Array.from({ length: 2 * 224 * 224 * 3 }, (_, i) => Math.sin(i * 0.37) * 0.9);
const res: Record<string, Float32Array[]> = {};
for (const be of ['wasm', 'cpu'] as const) {
  await selectBackend(be);
  const base = await tf.loadLayersModel(fileIOHandler('/work/shared/models/mobilenet_v2_0.35_imagenet/model.json'));
  const xs = tf.tensor4d(xv, [2, 224, 224, 3]);
  const vars = base.trainableWeights.map((w) => w.read() as tf.Variable);
  const t = performance.now();
  const { value, grads } = tf.variableGrads(() => (base.apply(xs, { training: true }) as tf.Tensor).mean([1, 2]).square().sum() as tf.Scalar, vars);
  res[be] = [value.dataSync().slice() as Float32Array, ...vars.map((v) => grads[v.name]!.dataSync().slice() as Float32Array)];
  if (be === 'cpu') console.log(vars.slice(0, 20).map((v, i) => `${i + 1}:${v.name}:${v.shape}`).join('  '));
  console.log(be, 'full-model grad step', (performance.now() - t).toFixed(0), 'ms', vars.length, 'vars');
  tf.dispose([xs, value]); tf.dispose(grads); base.dispose();
}
let worstRel = 0; let worstK = -1;
const names = ['value'];
res.cpu!.forEach((c, k) => {
  const w = res.wasm![k]!; let worst = 0, scale = 0;
  for (let i = 0; i < c.length; i++) { worst = Math.max(worst, Math.abs(c[i]! - w[i]!)); scale = Math.max(scale, Math.abs(c[i]!)); }
  const rel = worst / Math.max(scale, 1e-6); if (rel > worstRel) { worstRel = rel; worstK = k; }
  if (rel > 1e-3) console.log(k, c.length, 'worst', worst.toExponential(2), 'scale', scale.toExponential(2));
});
console.log('worst rel', worstRel, 'at', worstK);
