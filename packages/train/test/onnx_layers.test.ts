import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { selectBackend, type SelectedBackend } from '@flowers/core/tf';
import { buildTrainingGraphs } from '../src/index.ts';
import { buildFinetuneModel } from '../src/models/index.ts';
import { CLASSES, compareWithAutodiff, randomRows, seedWeights } from './onnx_reference.ts';

let onnx: SelectedBackend;
beforeAll(async () => {
  onnx = await selectBackend('onnx');
  // References come from TensorFlow.js' own autodiff on the pure-JS backend.
  await tf.setBackend('cpu');
});

type Sym = tf.SymbolicTensor;
const apply = (layer: tf.layers.Layer, x: Sym | Sym[]): Sym => layer.apply(x) as Sym;

/** A model from `input` to `body`'s map, then global average pooling and a softmax Dense. */
function classifier(inputShape: number[], body: (x: Sym) => Sym): tf.LayersModel {
  const input = tf.input({ shape: inputShape });
  const pooled = apply(tf.layers.globalAveragePooling2d({}), body(input));
  return tf.model({ inputs: input, outputs: apply(tf.layers.dense({ units: CLASSES, activation: 'softmax' }), pooled) });
}

/** Conv (no bias), batch norm, ReLU: InceptionV3's conv2d_bn. */
function convBn(x: Sym, filters: number, kernelSize: [number, number], { scale = false, strides = 1, padding = 'same' as 'same' | 'valid' } = {}): Sym {
  const conv = apply(tf.layers.conv2d({ filters, kernelSize, strides, padding, useBias: false }), x);
  const bn = apply(tf.layers.batchNormalization({ axis: 3, scale, epsilon: 1e-3, momentum: 0.9 }), conv);
  return apply(tf.layers.activation({ activation: 'relu' }), bn);
}

async function compare(model: tf.LayersModel, training: boolean, seed: string): Promise<void> {
  seedWeights(model, seed);
  await compareWithAutodiff(onnx.onnx!, model, randomRows(model.inputs[0]!.shape.slice(1) as number[], seed), { training });
  model.dispose();
}

describe('the training graph of a fine-tuned top', () => {
  it('trains batch norm on batch statistics, with scale and centre, moving statistics and the inference form as TensorFlow.js does', async () => {
    await compare(classifier([5, 6, 3], (x) => convBn(x, 4, [3, 3], { scale: true })), true, 'bn');
    // On the model's input (no gradient to pass down), another momentum.
    await compare(classifier([4, 4, 3], (x) => apply(tf.layers.activation({ activation: 'relu' }), apply(tf.layers.batchNormalization({ momentum: 0.7 }), x))), true, 'bn-input');
  });

  it("trains InceptionV3's scaleless batch norms as buildFinetuneModel makes them (a fixed gamma of ones)", async () => {
    const input = tf.input({ shape: [5, 5, 4] });
    const top = tf.model({ inputs: input, outputs: convBn(convBn(input, 6, [3, 3]), 5, [1, 1]) });
    const model = buildFinetuneModel(top, 'gap_dense', { numClasses: CLASSES, dropout: 0, seed: 1 });
    expect(model.nonTrainableWeights.some((w) => w.originalName.endsWith('/gamma'))).toBe(true);
    await compare(model, true, 'fixed-gamma');
  });

  it('handles a branching block like mixed9: shared inputs, 1x3, 3x1, 1x7 and 7x1 convolutions, average pooling and nested concatenations', async () => {
    const block = (x: Sym): Sym => {
      const branch1x1 = convBn(x, 3, [1, 1]);
      const branch3x3In = convBn(x, 4, [1, 1]);
      const branch3x3 = apply(tf.layers.concatenate({ axis: -1 }), [convBn(branch3x3In, 3, [1, 3]), convBn(branch3x3In, 2, [3, 1])]);
      const branch7x7 = convBn(convBn(x, 3, [1, 7]), 3, [7, 1]);
      const branchPool = convBn(apply(tf.layers.averagePooling2d({ poolSize: 3, strides: 1, padding: 'same' }), x), 2, [1, 1]);
      return apply(tf.layers.concatenate({ axis: -1 }), [branch1x1, branch3x3, branch7x7, branchPool]);
    };
    const input = tf.input({ shape: [6, 7, 5] });
    const top = tf.model({ inputs: input, outputs: block(convBn(input, 4, [3, 3], { strides: 2, padding: 'valid' })) });
    await compare(buildFinetuneModel(tf.model({ inputs: input, outputs: block(input) }), 'dropout_dense64', { numClasses: CLASSES, dropout: 0, seed: 2 }), true, 'block');
    await compare(buildFinetuneModel(top, 'gap_linear', { numClasses: CLASSES, dropout: 0, seed: 3 }), true, 'block-after-conv');
  });

  it('averages windows as TensorFlow.js does, padding excluded from the count, and gives its gradient, in same and valid padding', async () => {
    for (const [poolSize, padding] of [[3, 'same'], [[2, 3], 'valid'], [[4, 2], 'same']] as const) {
      const pool = (x: Sym): Sym => apply(tf.layers.averagePooling2d({ poolSize: poolSize as number | [number, number], strides: 1, padding }), x);
      // A conv before the pool takes its gradient; a ReLU'd one after makes that gradient uneven.
      const body = (x: Sym): Sym => apply(tf.layers.conv2d({ filters: 3, kernelSize: [2, 3], activation: 'relu' }), pool(apply(tf.layers.conv2d({ filters: 2, kernelSize: 1 }), x)));
      await compare(classifier([5, 6, 2], body), false, `pool-${padding}`);
    }
  });

  it("handles MobileNetV2's blocks: depthwise convolutions (stride 1 same, stride 2 after zero padding), ReLU6 and residual adds", async () => {
    const relu6 = (x: Sym, maxValue = 6): Sym => apply(tf.layers.reLU({ maxValue }), x);
    const bn = (x: Sym): Sym => apply(tf.layers.batchNormalization({ momentum: 0.999 }), x);
    const block = (input: Sym, { stride, filters, maxValue }: { stride: 1 | 2; filters: number; maxValue?: number }): Sym => {
      let x = relu6(bn(apply(tf.layers.conv2d({ filters: 6, kernelSize: 1, useBias: false }), input)), maxValue);
      if (stride === 2) x = apply(tf.layers.zeroPadding2d({ padding: [[1, 1], [0, 1]] }), x);
      x = relu6(bn(apply(tf.layers.depthwiseConv2d({ kernelSize: 3, strides: stride, padding: stride === 1 ? 'same' : 'valid', useBias: false }), x)), maxValue);
      x = bn(apply(tf.layers.conv2d({ filters, kernelSize: 1, useBias: false }), x));
      return stride === 1 && filters === input.shape[3] ? apply(tf.layers.add({}), [input, x]) : x;
    };
    const input = tf.input({ shape: [6, 5, 4] });
    // A low maximum clips some values, so the gradient's upper cut is exercised too.
    const top = tf.model({ inputs: input, outputs: block(block(block(input, { stride: 1, filters: 4, maxValue: 0.8 }), { stride: 2, filters: 5 }), { stride: 1, filters: 5 }) });
    await compare(buildFinetuneModel(top, 'gap_dense', { numClasses: CLASSES, dropout: 0, seed: 4 }), true, 'mobilenet');
    // A biased depthwise conv with a ReLU of its own, and a plain ReLU layer.
    const biased = (x: Sym): Sym => apply(tf.layers.reLU({}), apply(tf.layers.depthwiseConv2d({ kernelSize: [2, 3], padding: 'same', activation: 'relu' }), apply(tf.layers.conv2d({ filters: 3, kernelSize: 1 }), x)));
    await compare(classifier([5, 4, 2], biased), false, 'depthwise-bias');
  });

  it('names the layer it cannot train: strided average pooling, concatenation along space', () => {
    const strided = classifier([4, 4, 2], (x) => apply(tf.layers.averagePooling2d({ poolSize: 2, name: 'coarse' }), x));
    expect(() => buildTrainingGraphs(strided)).toThrow("layer 'coarse' (AveragePooling2D) has strides other than 1");
    const rows = classifier([4, 4, 2], (x) => apply(tf.layers.concatenate({ axis: 1, name: 'stack' }), [x, x]));
    expect(() => buildTrainingGraphs(rows)).toThrow("layer 'stack' (Concatenate) concatenates along an axis other than the channels");
  });
});
