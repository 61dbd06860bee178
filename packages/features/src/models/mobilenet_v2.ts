import * as tf from '@tensorflow/tfjs';
import { UserError } from '@flowers/core';
import { scalePixels, SYMMETRIC_UNIT, type PixelScaling } from './preprocess.ts';

export const MOBILENET_V2_MIN_SIZE = 32;
export const MOBILENET_V2_ALPHAS = [0.35, 0.5, 0.75, 1.0] as const;
export type MobileNetV2Alpha = (typeof MOBILENET_V2_ALPHAS)[number];

type Sym = tf.SymbolicTensor;
type Padding2D = [[number, number], [number, number]];

/** Keras `_make_divisible`: rounds channel counts to multiples of 8 without losing over 10%. */
function makeDivisible(value: number, divisor = 8): number {
  let rounded = Math.max(divisor, Math.floor((value + divisor / 2) / divisor) * divisor);
  if (rounded < 0.9 * value) rounded += divisor;
  return rounded;
}

/**
 * Keras `imagenet_utils.correct_pad`: the zero padding TensorFlow's 'same' would add before a
 * stride-2 3x3 convolution (one extra row/column at the bottom/right on even sizes).
 */
function correctPad(x: Sym): Padding2D {
  const [, rows, cols] = x.shape as number[];
  return [[rows! % 2, 1], [cols! % 2, 1]];
}

const bn = (name: string) => tf.layers.batchNormalization({ axis: -1, epsilon: 1e-3, momentum: 0.999, name });
const relu6 = (name: string) => tf.layers.reLU({ maxValue: 6, name });

/** Keras `_inverted_res_block`: expand (1x1), depthwise 3x3, linear project (1x1), residual add. */
function invertedResBlock(input: Sym, { expansion, stride, alpha, filters, blockId }: {
  expansion: number;
  stride: number;
  alpha: number;
  filters: number;
  blockId: number;
}): Sym {
  const inChannels = input.shape[3] as number;
  const pointwiseFilters = makeDivisible(Math.trunc(filters * alpha));
  const prefix = blockId === 0 ? 'expanded_conv_' : `block_${blockId}_`;
  let x = input;
  if (blockId !== 0) {
    x = tf.layers
      .conv2d({ filters: expansion * inChannels, kernelSize: 1, padding: 'same', useBias: false, name: `${prefix}expand` })
      .apply(x) as Sym;
    x = bn(`${prefix}expand_BN`).apply(x) as Sym;
    x = relu6(`${prefix}expand_relu`).apply(x) as Sym;
  }
  if (stride === 2) x = tf.layers.zeroPadding2d({ padding: correctPad(x), name: `${prefix}pad` }).apply(x) as Sym;
  x = tf.layers
    .depthwiseConv2d({
      kernelSize: 3,
      strides: stride,
      depthMultiplier: 1,
      padding: stride === 1 ? 'same' : 'valid',
      useBias: false,
      name: `${prefix}depthwise`,
    })
    .apply(x) as Sym;
  x = bn(`${prefix}depthwise_BN`).apply(x) as Sym;
  x = relu6(`${prefix}depthwise_relu`).apply(x) as Sym;
  x = tf.layers
    .conv2d({ filters: pointwiseFilters, kernelSize: 1, padding: 'same', useBias: false, name: `${prefix}project` })
    .apply(x) as Sym;
  x = bn(`${prefix}project_BN`).apply(x) as Sym;
  if (inChannels === pointwiseFilters && stride === 1) {
    x = tf.layers.add({ name: `${prefix}add` }).apply([input, x]) as Sym;
  }
  return x;
}

// [filters, stride, expansion] of blocks 0..16, from keras/applications/mobilenet_v2.py.
const BLOCKS: ReadonlyArray<readonly [number, number, number]> = [
  [16, 1, 1],
  [24, 2, 6], [24, 1, 6],
  [32, 2, 6], [32, 1, 6], [32, 1, 6],
  [64, 2, 6], [64, 1, 6], [64, 1, 6], [64, 1, 6],
  [96, 1, 6], [96, 1, 6], [96, 1, 6],
  [160, 2, 6], [160, 1, 6], [160, 1, 6],
  [320, 1, 6],
];

/**
 * Keras MobileNetV2, include_top=False, no pooling (410,208 parameters at alpha 0.35; output
 * 7x7x1280 at 224 px). Layer names, including the Keras 2.2 `Conv1_pad`, match the Keras model,
 * so weights map by name.
 */
export function buildMobileNetV2({ alpha, inputSize }: { alpha: MobileNetV2Alpha; inputSize: number }): tf.LayersModel {
  if (!MOBILENET_V2_ALPHAS.includes(alpha)) {
    throw new UserError(`mobilenet_v2: alpha must be one of ${MOBILENET_V2_ALPHAS.join(', ')}, got ${alpha}`);
  }
  if (!Number.isInteger(inputSize) || inputSize < MOBILENET_V2_MIN_SIZE) {
    throw new UserError(`mobilenet_v2: inputSize must be an integer >= ${MOBILENET_V2_MIN_SIZE}, got ${inputSize}`);
  }
  const input = tf.input({ shape: [inputSize, inputSize, 3], name: 'input_1' });
  let x = tf.layers.zeroPadding2d({ padding: correctPad(input), name: 'Conv1_pad' }).apply(input) as Sym;
  x = tf.layers
    .conv2d({ filters: makeDivisible(32 * alpha), kernelSize: 3, strides: 2, padding: 'valid', useBias: false, name: 'Conv1' })
    .apply(x) as Sym;
  x = bn('bn_Conv1').apply(x) as Sym;
  x = relu6('Conv1_relu').apply(x) as Sym;
  for (const [blockId, [filters, stride, expansion]] of BLOCKS.entries()) {
    x = invertedResBlock(x, { expansion, stride, alpha, filters, blockId });
  }
  // Keras keeps 1280 features for alpha <= 1 (the last layer is not thinned).
  x = tf.layers.conv2d({ filters: 1280, kernelSize: 1, useBias: false, name: 'Conv_1' }).apply(x) as Sym;
  x = bn('Conv_1_bn').apply(x) as Sym;
  x = relu6('out_relu').apply(x) as Sym;
  return tf.model({ inputs: input, outputs: x, name: `mobilenetv2_${alpha.toFixed(2)}_${inputSize}` });
}

/** Keras `preprocess_input` for MobileNetV2. */
export const MOBILENET_V2_PIXEL_SCALING: PixelScaling = SYMMETRIC_UNIT;
export const preprocessMobileNetV2 = (pixels: tf.Tensor): tf.Tensor => scalePixels(pixels, MOBILENET_V2_PIXEL_SCALING);
