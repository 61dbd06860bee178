import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '@flowers/core/tf';

await selectBackend('wasm');
const useOurs = process.argv.includes('--ours');
if (useOurs) {
  const { registerTrainingKernels } = await import('../src/kernels/index.ts');
  console.log('registered', registerTrainingKernels());
}
const missing = new Set<string>();
function cnn(): tf.LayersModel {
  const m = tf.sequential();
  m.add(tf.layers.conv2d({ inputShape: [30, 30, 3], filters: 4, kernelSize: 3, activation: 'relu' }));
  m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tf.layers.conv2d({ filters: 4, kernelSize: 3, activation: 'relu' }));
  m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tf.layers.flatten());
  m.add(tf.layers.dropout({ rate: 0.5 }));
  m.add(tf.layers.dense({ units: 8, activation: 'relu' }));
  m.add(tf.layers.dense({ units: 5, activation: 'softmax' }));
  return m;
}
function mobile(): tf.LayersModel {
  const inp = tf.input({ shape: [16, 16, 8] });
  let x = tf.layers.conv2d({ filters: 16, kernelSize: 1, padding: 'same', useBias: false }).apply(inp) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization().apply(x) as tf.SymbolicTensor;
  x = tf.layers.reLU({ maxValue: 6 }).apply(x) as tf.SymbolicTensor;
  let d = tf.layers.depthwiseConv2d({ kernelSize: 3, strides: 1, padding: 'same', useBias: false }).apply(x) as tf.SymbolicTensor;
  d = tf.layers.batchNormalization().apply(d) as tf.SymbolicTensor;
  d = tf.layers.reLU({ maxValue: 6 }).apply(d) as tf.SymbolicTensor;
  let p = tf.layers.conv2d({ filters: 16, kernelSize: 1, padding: 'same', useBias: false }).apply(d) as tf.SymbolicTensor;
  p = tf.layers.batchNormalization().apply(p) as tf.SymbolicTensor;
  const a = tf.layers.add().apply([x, p]) as tf.SymbolicTensor;
  let s = tf.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'same', useBias: false }).apply(a) as tf.SymbolicTensor;
  s = tf.layers.activation({ activation: 'relu6' }).apply(s) as tf.SymbolicTensor;
  const g = tf.layers.globalAveragePooling2d({}).apply(s) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 5, activation: 'softmax' }).apply(g) as tf.SymbolicTensor;
  return tf.model({ inputs: inp, outputs: out });
}
function inception(): tf.LayersModel {
  const inp = tf.input({ shape: [8, 8, 8] });
  const cbr = (t: tf.SymbolicTensor, f: number, k: [number, number], strides = 1, padding: 'same' | 'valid' = 'same') => {
    let y = tf.layers.conv2d({ filters: f, kernelSize: k, strides, padding, useBias: false }).apply(t) as tf.SymbolicTensor;
    y = tf.layers.batchNormalization({ scale: process.argv.includes("--noscale") ? false : true }).apply(y) as tf.SymbolicTensor;
    return tf.layers.activation({ activation: 'relu' }).apply(y) as tf.SymbolicTensor;
  };
  const b1 = cbr(inp, 4, [1, 1]);
  const b3 = cbr(inp, 4, [1, 1]);
  const b3a = cbr(b3, 4, [1, 3]);
  const b3b = cbr(b3, 4, [3, 1]);
  const b33 = cbr(cbr(inp, 4, [1, 1]), 4, [3, 3]);
  let pool = tf.layers.averagePooling2d({ poolSize: 3, strides: 1, padding: 'same' }).apply(inp) as tf.SymbolicTensor;
  pool = cbr(pool, 4, [1, 1]);
  let mp = tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'valid' }).apply(inp) as tf.SymbolicTensor;
  const cat = tf.layers.concatenate().apply([b1, b3a, b3b, b33, pool]) as tf.SymbolicTensor;
  const s2 = cbr(cat, 4, [3, 3], 2, 'valid');
  const merged = tf.layers.concatenate().apply([s2, mp]) as tf.SymbolicTensor;
  const g = tf.layers.globalAveragePooling2d({}).apply(merged) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 5, activation: 'softmax' }).apply(g) as tf.SymbolicTensor;
  return tf.model({ inputs: inp, outputs: out });
}
async function tryIt(label: string, f: () => Promise<void>) {
  for (let attempt = 0; attempt < 20; attempt++) {
    try { await f(); console.log(label, 'OK'); return; } catch (e) {
      const msg = String((e as Error).message);
      const m = /Kernel '(\w+)' not registered/.exec(msg);
      if (!m) { console.log(label, "ERROR", (e as Error).stack); return; }
      missing.add(m[1]!);
      console.log(label, 'missing', m[1]);
      // register a cpu-delegating stand-in so probing can proceed past this kernel
      const cpuKernel = tf.getKernel(m[1]!, 'cpu')!;
      tf.registerKernel({ kernelName: m[1]!, backendName: 'wasm', kernelFunc: ({ inputs, attrs, backend }) => {
        const cpu = tf.findBackend('cpu')!;
        const cpuInputs: Record<string, tf.TensorInfo> = {};
        const made: tf.TensorInfo[] = [];
        for (const [k, v] of Object.entries(inputs)) {
          const vals = (backend as any).readSync(v!.dataId);
          const info = (cpu as any).makeTensorInfo(v!.shape, v!.dtype, vals);
          cpuInputs[k] = info; made.push(info);
        }
        const out = cpuKernel.kernelFunc({ inputs: cpuInputs, attrs, backend: cpu }) as tf.TensorInfo;
        const vals = (cpu as any).readSync(out.dataId);
        return (backend as any).makeOutput(out.shape, out.dtype, vals);
      } });
    }
  }
}
for (const [name, build] of [['cnn', cnn], ['mobilenet', mobile], ['inception', inception]] as const) {
  const s = name === 'cnn' ? [30, 30, 3] : name === 'mobilenet' ? [16, 16, 8] : [8, 8, 8];
  const xs = tf.randomNormal([4, ...s]);
  const ys = tf.oneHot(tf.tensor1d([0, 1, 2, 3], 'int32'), 5).toFloat();
  for (const opt of ['rmsprop', 'adam']) {
    await tryIt(`${name} fit ${opt}`, async () => {
      const m = build();
      m.compile({ optimizer: opt === 'adam' ? tf.train.adam(1e-3) : tf.train.rmsprop(1e-3), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
      await m.fit(xs, ys, { epochs: 1, batchSize: 2, verbose: 0 });
      await m.evaluate(xs, ys);
      m.predict(xs);
    });
    await tryIt(`${name} minimize ${opt}`, async () => {
      const m = build();
      const o = opt === 'adam' ? tf.train.adam(1e-3) : tf.train.rmsprop(1e-3);
      o.minimize(() => tf.losses.softmaxCrossEntropy(ys, m.apply(xs, { training: true }) as tf.Tensor) as tf.Scalar);
      const vg = tf.variableGrads(() => tf.metrics.categoricalCrossentropy(ys, m.apply(xs, { training: true }) as tf.Tensor).mean() as tf.Scalar);
      tf.dispose(vg.grads); vg.value.dispose();
    });
  }
}
console.log('MISSING', [...missing]);
