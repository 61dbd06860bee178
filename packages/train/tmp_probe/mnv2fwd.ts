import * as tf from '@tensorflow/tfjs';
import { selectBackend, fileIOHandler } from '@flowers/core/tf';
import { registerTrainingKernels } from '../src/kernels/index.ts';
await selectBackend('wasm'); registerTrainingKernels();
const xv = Float32Array.from({ length: 2 * 224 * 224 * 3 }, (_, i) => Math.sin(i * 0.37) * 0.9);
const res: Record<string, Float32Array[]> = {};
let names: string[] = [];
for (const be of ['wasm', 'cpu'] as const) {
  await selectBackend(be);
  const base = await tf.loadLayersModel(fileIOHandler('/work/shared/models/mobilenet_v2_0.35_imagenet/model.json'));
  const picks = base.layers.filter((l, i) => i % 6 === 0 || i > 145);
  names = picks.map((l) => l.name);
  const probe = tf.model({ inputs: base.inputs, outputs: picks.slice(1).map((l) => l.output as tf.SymbolicTensor) });
  const xs = tf.tensor4d(xv, [2, 224, 224, 3]);
  const outs = probe.apply(xs, { training: process.argv.includes('--train') }) as tf.Tensor[];
  res[be] = outs.map((o) => o.dataSync().slice() as Float32Array);
}
res.cpu!.forEach((c, k) => {
  const w = res.wasm![k]!; let worst = 0, scale = 0;
  for (let i = 0; i < c.length; i++) { worst = Math.max(worst, Math.abs(c[i]! - w[i]!)); scale = Math.max(scale, Math.abs(c[i]!)); }
  console.log(names[k + 1], 'rel', (worst / scale).toExponential(2), 'scale', scale.toExponential(2));
});
