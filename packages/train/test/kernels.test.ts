import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { createRandom } from '@flowers/core';
import { selectBackend } from '@flowers/core/tf';
import { registerTrainingKernels } from '../src/kernels/index.ts';

type Shape4 = [number, number, number, number];
type Padding = 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;
type Backend = 'wasm' | 'cpu';

function randomValues(size: number, ...seed: Array<string | number>): Float32Array {
  const random = createRandom('kernels-test', ...seed);
  return Float32Array.from({ length: size }, () => random.uniform(-1, 1));
}

function randomTensor(shape: number[], ...seed: Array<string | number>): tf.Tensor {
  return tf.tensor(randomValues(shape.reduce((a, b) => a * b, 1), ...seed), shape);
}

/** Runs `compute` with `backend` active and returns its outputs as plain arrays. */
async function valuesOn(backend: Backend, compute: () => tf.Tensor[]): Promise<Float32Array[]> {
  await selectBackend(backend);
  const outputs = tf.tidy(compute);
  const values = outputs.map((t) => Float32Array.from(t.dataSync()));
  tf.dispose(outputs);
  return values;
}

/** Equal to 1e-4 of the largest expected magnitude (plus float noise for all-but-zero gradients). */
function expectClose(actual: Float32Array[], expected: Float32Array[], label: string): void {
  expect(actual.length, label).toBe(expected.length);
  expected.forEach((want, k) => {
    const got = actual[k]!;
    expect(got.length, `${label} output ${k} size`).toBe(want.length);
    let scale = 0;
    let worst = 0;
    for (let i = 0; i < want.length; i++) {
      scale = Math.max(scale, Math.abs(want[i]!));
      worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
    }
    expect(worst, `${label} output ${k} (largest magnitude ${scale})`).toBeLessThanOrEqual(1e-4 * scale + 1e-7);
  });
}

function expectNonZero(values: Float32Array[], label: string): void {
  values.forEach((v, k) => expect(v.some((x) => x !== 0), `${label} output ${k} is all zeros`).toBe(true));
}

async function expectWasmMatchesCpu(compute: () => tf.Tensor[], label: string): Promise<void> {
  const expected = await valuesOn('cpu', compute);
  expectNonZero(expected, label);
  expectClose(await valuesOn('wasm', compute), expected, label);
}

let firstRegistration: string[] = [];
beforeAll(async () => {
  await selectBackend('wasm');
  firstRegistration = registerTrainingKernels();
});

describe('registerTrainingKernels', () => {
  it('registers the missing and the replaced gradient kernels for wasm once', () => {
    expect([...firstRegistration].sort()).toEqual(
      ['BatchMatMul', 'Conv2DBackpropFilter', 'Conv2DBackpropInput', 'DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput', 'MaxPoolGrad']);
    expect(registerTrainingKernels()).toEqual([]);
    for (const name of firstRegistration) expect(tf.getKernel(name, 'wasm')?.backendName).toBe('wasm');
  });
});

describe('BatchMatMul on wasm matches cpu', () => {
  const cases: Array<{ a: number[]; b: number[]; transposeA: boolean; transposeB: boolean }> = [
    { a: [7, 5], b: [5, 3], transposeA: false, transposeB: false },
    { a: [5, 7], b: [5, 3], transposeA: true, transposeB: false },
    { a: [7, 5], b: [3, 5], transposeA: false, transposeB: true },
    { a: [5, 7], b: [3, 5], transposeA: true, transposeB: true },
    { a: [2, 6, 4], b: [2, 6, 3], transposeA: true, transposeB: false },
  ];
  for (const c of cases) {
    it(`[${c.a}]${c.transposeA ? 'ᵀ' : ''} x [${c.b}]${c.transposeB ? 'ᵀ' : ''}, and its gradients`, async () => {
      await expectWasmMatchesCpu(() => {
        const a = randomTensor(c.a, 'matmul-a', ...c.a);
        const b = randomTensor(c.b, 'matmul-b', ...c.b);
        const product = (x: tf.Tensor, y: tf.Tensor): tf.Tensor => tf.matMul(x as tf.Tensor3D, y as tf.Tensor3D, c.transposeA, c.transposeB);
        const weights = randomTensor(product(a, b).shape, 'matmul-dy');
        const [da, db] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(product(x, y), weights)))([a, b]);
        return [product(a, b), da!, db!];
      }, `matMul ${JSON.stringify(c)}`);
    });
  }
});

interface ConvCase {
  x: Shape4;
  filter: Shape4;
  strides: number | [number, number];
  pad: Padding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

function describeCase(c: ConvCase): string {
  return `x ${c.x} filter ${c.filter} strides ${c.strides} pad ${JSON.stringify(c.pad)}${c.dimRoundingMode ? ` ${c.dimRoundingMode}` : ''}`;
}

/** Gradients of sum(conv(x, w) * dy) with respect to x and w, dy random. */
function convGradients(c: ConvCase, conv: (x: tf.Tensor4D, w: tf.Tensor4D) => tf.Tensor4D): tf.Tensor[] {
  const x = randomTensor(c.x, 'x', describeCase(c)) as tf.Tensor4D;
  const w = randomTensor(c.filter, 'w', describeCase(c)) as tf.Tensor4D;
  const dy = randomTensor(conv(x, w).shape, 'dy', describeCase(c));
  return tf.grads((a, b) => conv(a as tf.Tensor4D, b as tf.Tensor4D))([x, w], dy);
}

describe('Conv2D gradients on wasm match cpu', () => {
  const cases: ConvCase[] = [
    { x: [2, 7, 7, 3], filter: [3, 3, 3, 4], strides: 1, pad: 'valid' },
    { x: [2, 7, 7, 3], filter: [3, 3, 3, 4], strides: 1, pad: 'same' },
    // With stride 2 and 'valid' the last input row and column are never read.
    { x: [2, 8, 8, 3], filter: [3, 3, 3, 4], strides: 2, pad: 'valid' },
    { x: [2, 8, 7, 2], filter: [3, 3, 2, 5], strides: 2, pad: 'same' },
    { x: [3, 6, 6, 4], filter: [1, 3, 4, 2], strides: 1, pad: 'same' },
    { x: [3, 6, 6, 4], filter: [3, 1, 4, 2], strides: [2, 1], pad: 'same' },
    { x: [2, 7, 7, 3], filter: [1, 1, 3, 6], strides: 2, pad: 'valid' },
    { x: [2, 6, 6, 2], filter: [3, 3, 2, 3], strides: 1, pad: [[0, 0], [1, 2], [0, 1], [0, 0]] },
    { x: [2, 9, 9, 3], filter: [5, 5, 3, 2], strides: 2, pad: 1, dimRoundingMode: 'floor' },
    // 'ceil' adds an output row and column whose windows reach past the padding.
    { x: [2, 9, 8, 3], filter: [3, 3, 3, 2], strides: [1, 2], pad: 1, dimRoundingMode: 'ceil' },
  ];
  for (const c of cases) {
    it(describeCase(c), async () => {
      await expectWasmMatchesCpu(
        () => convGradients(c, (x, w) => tf.conv2d(x, w, c.strides, c.pad, 'NHWC', 1, c.dimRoundingMode)),
        describeCase(c));
    });
  }

  it('backprop kernels with NCHW data', async () => {
    const attrs = { strides: [2, 1], pad: 'same', dataFormat: 'NCHW' };
    const dy = () => randomTensor([2, 4, 4, 6], 'nchw dy');
    await expectWasmMatchesCpu(() => [
      tf.engine().runKernel('Conv2DBackpropFilter', { x: randomTensor([2, 3, 7, 6], 'nchw x'), dy: dy() }, { ...attrs, filterShape: [3, 3, 3, 4] }) as tf.Tensor,
      tf.engine().runKernel('Conv2DBackpropInput', { dy: dy(), filter: randomTensor([3, 3, 3, 4], 'nchw w') }, { ...attrs, inputShape: [2, 3, 7, 6] }) as tf.Tensor,
    ], 'NCHW');
  });
});

describe('DepthwiseConv2D gradients on wasm match cpu', () => {
  const cases: ConvCase[] = [
    { x: [2, 7, 7, 3], filter: [3, 3, 3, 1], strides: 1, pad: 'same' },
    { x: [2, 8, 8, 3], filter: [3, 3, 3, 1], strides: 2, pad: 'same' },
    { x: [2, 9, 9, 4], filter: [3, 3, 4, 1], strides: 2, pad: 'same' },
    { x: [2, 8, 8, 2], filter: [3, 3, 2, 2], strides: 2, pad: 'valid' },
    { x: [3, 6, 5, 2], filter: [3, 3, 2, 3], strides: 1, pad: 'valid' },
    { x: [2, 7, 7, 3], filter: [1, 1, 3, 1], strides: 2, pad: 'valid' },
    { x: [2, 6, 6, 2], filter: [3, 3, 2, 1], strides: 1, pad: [[0, 0], [2, 0], [1, 1], [0, 0]] },
    // Explicit padding wider than the filter reaches.
    { x: [2, 5, 5, 2], filter: [2, 2, 2, 1], strides: 1, pad: [[0, 0], [3, 0], [0, 2], [0, 0]] },
    { x: [2, 9, 8, 3], filter: [3, 3, 3, 2], strides: [1, 2], pad: 1, dimRoundingMode: 'ceil' },
  ];
  for (const c of cases) {
    it(describeCase(c), async () => {
      await expectWasmMatchesCpu(
        () => convGradients(c, (x, w) => tf.depthwiseConv2d(x, w, c.strides, c.pad, 'NHWC', 1, c.dimRoundingMode)),
        describeCase(c));
    });
  }

  // tfjs gradients refuse dilations above 1 (and the cpu backprop kernels ignore them), but the
  // kernels take them: compare with the gradients of the equivalent undilated filter, zeros between taps.
  for (const pad of ['same', 'valid'] as const) {
    it(`backprop kernels with dilations 2, pad ${pad}`, async () => {
      const xShape: Shape4 = [2, 9, 8, 3];
      const x = () => randomTensor(xShape, 'dilated x');
      const w = () => randomTensor([3, 3, 3, 2], 'dilated w');
      const dy = () => randomTensor(pad === 'same' ? [2, 9, 8, 6] : [2, 5, 4, 6], 'dilated dy', pad);
      const expected = await valuesOn('cpu', () => {
        // Tap (i, j) of the dilated filter sits at (2i, 2j) of a 5x5 one.
        const spread = tf.pad(tf.reshape(w(), [3, 1, 3, 1, 3, 2]), [[0, 0], [0, 1], [0, 0], [0, 1], [0, 0], [0, 0]])
          .reshape([6, 6, 3, 2]).slice([0, 0, 0, 0], [5, 5, 3, 2]) as tf.Tensor4D;
        const [dx, dSpread] = tf.grads((a, b) => tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, pad))([x(), spread], dy());
        const dw = tf.stridedSlice(dSpread!, [0, 0, 0, 0], [5, 5, 3, 2], [2, 2, 1, 1]);
        return [dw, dx!];
      });
      const attrs = { strides: 1, dilations: 2, pad };
      const actual = await valuesOn('wasm', () => [
        tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter', { x: x(), dy: dy() }, { ...attrs, filterShape: [3, 3, 3, 2] }) as tf.Tensor,
        tf.engine().runKernel('DepthwiseConv2dNativeBackpropInput', { dy: dy(), filter: w() }, { ...attrs, inputShape: xShape }) as tf.Tensor,
      ]);
      expectNonZero(expected, `dilations 2 ${pad}`);
      expectClose(actual, expected, `dilations 2 ${pad}`);
    });
  }
});

describe('MaxPool gradient on wasm matches cpu', () => {
  const cases: Array<{ x: Shape4; size: number; strides: number; pad: 'same' | 'valid' }> = [
    { x: [2, 6, 6, 3], size: 2, strides: 2, pad: 'valid' },
    { x: [2, 7, 7, 4], size: 3, strides: 2, pad: 'valid' },
    { x: [2, 7, 6, 2], size: 3, strides: 1, pad: 'same' },
    { x: [3, 5, 5, 5], size: 2, strides: 2, pad: 'same' },
  ];
  for (const c of cases) {
    const label = `x ${c.x} pool ${c.size} strides ${c.strides} pad ${c.pad}`;
    it(label, async () => {
      await expectWasmMatchesCpu(() => {
        // ReLU zeros make tied windows: the first maximum in row-major order takes the gradient.
        const x = tf.relu(randomTensor(c.x, 'pool x', label)) as tf.Tensor4D;
        const pool = (a: tf.Tensor) => tf.maxPool(a as tf.Tensor4D, c.size, c.strides, c.pad);
        return tf.grads(pool)([x], randomTensor(pool(x).shape, 'pool dy', label));
      }, label);
    });
  }
});

/** The scratch CNN's layer kinds at a small size: conv/ReLU/max-pool stack, dropout, dense, softmax. */
function scratchCnn(): tf.LayersModel {
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [22, 22, 3], filters: 4, kernelSize: 3, activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 6, kernelSize: 3, activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 8, kernelSize: 3, activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dropout({ rate: 0.5, seed: 7 }),
      tf.layers.dense({ units: 8, activation: 'relu' }),
      tf.layers.dense({ units: 5, activation: 'softmax' }),
    ],
  });
}

/** A MobileNetV2 inverted residual block, then a stride-2 depthwise block, pooled into a softmax head. */
function mobileNetBlocks(): tf.LayersModel {
  const input = tf.input({ shape: [10, 10, 8] });
  const apply = (layer: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]) => layer.apply(x) as tf.SymbolicTensor;
  const bnRelu6 = (x: tf.SymbolicTensor) => apply(tf.layers.reLU({ maxValue: 6 }), apply(tf.layers.batchNormalization(), x));
  const expanded = bnRelu6(apply(tf.layers.conv2d({ filters: 16, kernelSize: 1, useBias: false }), input));
  const filtered = bnRelu6(apply(tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', useBias: false }), expanded));
  const projected = apply(tf.layers.batchNormalization(), apply(tf.layers.conv2d({ filters: 8, kernelSize: 1, useBias: false }), filtered));
  const residual = apply(tf.layers.add(), [input, projected]);
  const reduced = bnRelu6(apply(tf.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'same', useBias: false }), residual));
  const pooled = apply(tf.layers.globalAveragePooling2d({}), reduced);
  return tf.model({ inputs: input, outputs: apply(tf.layers.dense({ units: 5, activation: 'softmax' }), pooled) });
}

/**
 * InceptionV3 mixed9/mixed10-style branches. Keras uses BatchNormalization(scale=false) there, but
 * tfjs-layers 4.22 cannot run that in training mode (it reads the missing gamma), so scale stays on.
 */
function inceptionBlocks(): tf.LayersModel {
  const input = tf.input({ shape: [8, 8, 8] });
  const apply = (layer: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]) => layer.apply(x) as tf.SymbolicTensor;
  const convBn = (x: tf.SymbolicTensor, filters: number, kernelSize: [number, number], strides = 1, padding: 'same' | 'valid' = 'same') =>
    apply(tf.layers.activation({ activation: 'relu' }), apply(tf.layers.batchNormalization(),
      apply(tf.layers.conv2d({ filters, kernelSize, strides, padding, useBias: false }), x)));
  const branch1x1 = convBn(input, 4, [1, 1]);
  const branch3x3 = convBn(input, 4, [1, 1]);
  const split3x3 = apply(tf.layers.concatenate(), [convBn(branch3x3, 4, [1, 3]), convBn(branch3x3, 4, [3, 1])]);
  const branchDouble = convBn(convBn(input, 4, [1, 1]), 4, [3, 3]);
  const splitDouble = apply(tf.layers.concatenate(), [convBn(branchDouble, 4, [1, 3]), convBn(branchDouble, 4, [3, 1])]);
  const branchPool = convBn(apply(tf.layers.averagePooling2d({ poolSize: 3, strides: 1, padding: 'same' }), input), 4, [1, 1]);
  const mixed = apply(tf.layers.concatenate(), [branch1x1, split3x3, splitDouble, branchPool]);
  const reduced = apply(tf.layers.concatenate(), [
    convBn(mixed, 6, [3, 3], 2, 'valid'),
    apply(tf.layers.maxPooling2d({ poolSize: 3, strides: 2 }), mixed),
  ]);
  const pooled = apply(tf.layers.globalAveragePooling2d({}), reduced);
  return tf.model({ inputs: input, outputs: apply(tf.layers.dense({ units: 5, activation: 'softmax' }), pooled) });
}

interface WeightValues { shape: number[]; values: Float32Array }

/** Builds `build` on cpu and keeps its initial weights, so both backends start from the same ones. */
async function initialWeights(build: () => tf.LayersModel): Promise<WeightValues[]> {
  await selectBackend('cpu');
  const model = build();
  const weights = model.getWeights().map((w) => ({ shape: w.shape, values: Float32Array.from(w.dataSync()) }));
  model.dispose();
  return weights;
}

function modelWith(build: () => tf.LayersModel, weights: WeightValues[]): tf.LayersModel {
  const model = build();
  model.setWeights(weights.map((w) => tf.tensor(w.values, w.shape)));
  return model;
}

function batchOf(model: tf.LayersModel, size: number): { xs: tf.Tensor; ys: tf.Tensor } {
  const shape = model.inputs[0]!.shape.slice(1) as number[];
  const labels = Array.from({ length: size }, (_, i) => i % 5);
  return { xs: randomTensor([size, ...shape], 'images', ...shape), ys: tf.oneHot(tf.tensor1d(labels, 'int32'), 5) };
}

function batchLoss(model: tf.LayersModel, xs: tf.Tensor, ys: tf.Tensor): tf.Scalar {
  return tf.metrics.categoricalCrossentropy(ys, model.apply(xs, { training: true }) as tf.Tensor).mean();
}

const MODELS: Record<string, () => tf.LayersModel> = { scratchCnn, mobileNetBlocks, inceptionBlocks };

describe('model gradients on wasm match cpu', () => {
  for (const [name, build] of Object.entries(MODELS)) {
    it(`every trainable variable of ${name}`, async () => {
      const weights = await initialWeights(build);
      const gradientsOn = async (backend: Backend): Promise<Float32Array[]> => valuesOn(backend, () => {
        const model = modelWith(build, weights);
        const { xs, ys } = batchOf(model, 6);
        const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
        const { grads } = tf.variableGrads(() => batchLoss(model, xs, ys), variables);
        const ordered = variables.map((v) => grads[v.name]!);
        model.dispose();
        return ordered;
      });
      const expected = await gradientsOn('cpu');
      expect(expected.length).toBeGreaterThan(0);
      expectClose(await gradientsOn('wasm'), expected, name);
    });
  }
});

describe('training on wasm', () => {
  it('lowers the loss and matches the same SGD steps on cpu', async () => {
    const weights = await initialWeights(mobileNetBlocks);
    const train = async (backend: Backend): Promise<{ losses: number[]; weights: Float32Array[] }> => {
      await selectBackend(backend);
      const model = modelWith(mobileNetBlocks, weights);
      const { xs, ys } = batchOf(model, 6);
      const optimizer = tf.train.sgd(0.1);
      const losses: number[] = [];
      for (let step = 0; step < 5; step++) {
        const loss = optimizer.minimize(() => batchLoss(model, xs, ys), true)!;
        losses.push(loss.dataSync()[0]!);
        loss.dispose();
      }
      const trained = model.getWeights().map((w) => Float32Array.from(w.dataSync()));
      tf.dispose([xs, ys]);
      optimizer.dispose();
      model.dispose();
      return { losses, weights: trained };
    };
    const cpu = await train('cpu');
    const wasm = await train('wasm');
    expect(wasm.losses.at(-1)!).toBeLessThan(wasm.losses[0]!);
    expectClose([Float32Array.from(wasm.losses)], [Float32Array.from(cpu.losses)], 'losses');
    expectClose(wasm.weights, cpu.weights, 'weights');
  });

  for (const [name, build] of Object.entries(MODELS)) {
    it(`keeps tensor and backend buffer counts flat across training steps of ${name}`, async () => {
      await selectBackend('wasm');
      const model = build();
      const { xs, ys } = batchOf(model, 4);
      const optimizer = tf.train.adam(0.01);
      const backend = tf.engine().backend;
      const counts: Array<[number, number]> = [];
      for (let step = 0; step < 5; step++) {
        optimizer.minimize(() => batchLoss(model, xs, ys));
        counts.push([tf.memory().numTensors, backend.numDataIds()]);
      }
      // The first step creates the optimizer's slot variables; after that nothing may accumulate.
      for (const count of counts.slice(2)) expect(count).toEqual(counts[1]);
      tf.dispose([xs, ys]);
      optimizer.dispose();
      model.dispose();
    });
  }
});
