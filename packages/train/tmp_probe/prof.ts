import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '@flowers/core/tf';
import { registerTrainingKernels } from '../src/kernels/index.ts';
await selectBackend(process.argv[2] as 'wasm'); registerTrainingKernels();
const B = Number(process.argv[3] ?? 8);
const conv = (filters: number, inputShape?: number[]) => tf.layers.conv2d({ filters, kernelSize: 3, activation: 'relu', ...(inputShape ? { inputShape } : {}) });
const model = tf.sequential({ layers: [conv(32, [150, 150, 3]), tf.layers.maxPooling2d({ poolSize: 2 }), conv(64), tf.layers.maxPooling2d({ poolSize: 2 }), conv(128), tf.layers.maxPooling2d({ poolSize: 2 }), conv(128), tf.layers.maxPooling2d({ poolSize: 2 }), tf.layers.flatten(), tf.layers.dropout({ rate: 0.5 }), tf.layers.dense({ units: 512, activation: 'relu' }), tf.layers.dense({ units: 5, activation: 'softmax' })] });
const xs = tf.randomUniform([B, 150, 150, 3]); const ys = tf.oneHot(tf.tensor1d(Array.from({ length: B }, (_, i) => i % 5), 'int32'), 5);
const opt = tf.train.rmsprop(1e-4);
const step = () => { opt.minimize(() => tf.metrics.categoricalCrossentropy(ys, model.apply(xs, { training: true }) as tf.Tensor).mean() as tf.Scalar); };
step();
const t = performance.now();
const info = await tf.profile(step);
console.log('step ms', performance.now() - t);
const by: Record<string, number> = {};
for (const k of info.kernels) { const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : (k.kernelTimeMs as any).error ? 0 : 0; by[k.name] = (by[k.name] ?? 0) + ms; }
console.log(Object.entries(by).sort((a, b) => b[1] - a[1]).slice(0, 14).map(([n, ms]) => `${n} ${ms.toFixed(0)}`).join('\n'));
for (const k of info.kernels.filter((k) => (k.kernelTimeMs as number) > 100)) console.log(k.name, JSON.stringify(k.inputShapes), (k.kernelTimeMs as number).toFixed(0));
