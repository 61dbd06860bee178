import * as tf from '@tensorflow/tfjs';
import { UserError } from '@flowers/core';
import { scalePixels, SYMMETRIC_UNIT, type PixelScaling } from './preprocess.ts';

/** Keras refuses InceptionV3 inputs below 75 px: the stride-2 stages would shrink them to nothing. */
export const INCEPTION_V3_MIN_SIZE = 75;

type Tensor4 = tf.SymbolicTensor;

/**
 * Keras 2 auto-names layers `<class>_<n>`, counting per class from 1 in creation order; the
 * official ImageNet .h5 and the nsfwjs topology use exactly these names (conv2d_1..conv2d_94),
 * so layers are created here in the same order as keras.applications.InceptionV3.
 */
function kerasNamer(): (prefix: string) => string {
  const counts = new Map<string, number>();
  return (prefix) => {
    const n = (counts.get(prefix) ?? 0) + 1;
    counts.set(prefix, n);
    return `${prefix}_${n}`;
  };
}

/**
 * Keras InceptionV3, include_top=False, no pooling: 21,802,784 parameters; the output is
 * 3x3x2048 at 150 px, 8x8x2048 at 299 px. Layer names match Keras 2 so weights map by name.
 */
export function buildInceptionV3({ inputSize }: { inputSize: number }): tf.LayersModel {
  if (!Number.isInteger(inputSize) || inputSize < INCEPTION_V3_MIN_SIZE) {
    throw new UserError(`inception_v3: inputSize must be an integer >= ${INCEPTION_V3_MIN_SIZE}, got ${inputSize}`);
  }
  const name = kerasNamer();

  // conv2d_bn in keras/applications/inception_v3.py: conv without bias, BN without scale, relu.
  const convBn = (
    x: Tensor4,
    filters: number,
    rows: number,
    cols: number,
    { padding = 'same', strides = 1 }: { padding?: 'same' | 'valid'; strides?: number } = {},
  ): Tensor4 => {
    x = tf.layers
      .conv2d({ filters, kernelSize: [rows, cols], strides, padding, useBias: false, name: name('conv2d') })
      .apply(x) as Tensor4;
    x = tf.layers.batchNormalization({ axis: 3, scale: false, epsilon: 1e-3, name: name('batch_normalization') }).apply(x) as Tensor4;
    return tf.layers.activation({ activation: 'relu', name: name('activation') }).apply(x) as Tensor4;
  };
  const maxPool = (x: Tensor4): Tensor4 =>
    tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'valid', name: name('max_pooling2d') }).apply(x) as Tensor4;
  const avgPool = (x: Tensor4): Tensor4 =>
    tf.layers.averagePooling2d({ poolSize: 3, strides: 1, padding: 'same', name: name('average_pooling2d') }).apply(x) as Tensor4;
  const concat = (xs: Tensor4[], layerName = name('concatenate')): Tensor4 =>
    tf.layers.concatenate({ axis: -1, name: layerName }).apply(xs) as Tensor4;

  const input = tf.input({ shape: [inputSize, inputSize, 3], name: 'input_1' });
  let x = convBn(input, 32, 3, 3, { strides: 2, padding: 'valid' });
  x = convBn(x, 32, 3, 3, { padding: 'valid' });
  x = convBn(x, 64, 3, 3);
  x = maxPool(x);
  x = convBn(x, 80, 1, 1, { padding: 'valid' });
  x = convBn(x, 192, 3, 3, { padding: 'valid' });
  x = maxPool(x);

  // mixed0..mixed2: 35x35 blocks (at 299 px); the pool branch widens from 32 to 64 channels.
  for (const [i, poolFilters] of [32, 64, 64].entries()) {
    const branch1x1 = convBn(x, 64, 1, 1);
    let branch5x5 = convBn(x, 48, 1, 1);
    branch5x5 = convBn(branch5x5, 64, 5, 5);
    let branch3x3dbl = convBn(x, 64, 1, 1);
    branch3x3dbl = convBn(branch3x3dbl, 96, 3, 3);
    branch3x3dbl = convBn(branch3x3dbl, 96, 3, 3);
    const branchPool = convBn(avgPool(x), poolFilters, 1, 1);
    x = concat([branch1x1, branch5x5, branch3x3dbl, branchPool], `mixed${i}`);
  }

  // mixed3: grid reduction to 17x17.
  {
    const branch3x3 = convBn(x, 384, 3, 3, { strides: 2, padding: 'valid' });
    let branch3x3dbl = convBn(x, 64, 1, 1);
    branch3x3dbl = convBn(branch3x3dbl, 96, 3, 3);
    branch3x3dbl = convBn(branch3x3dbl, 96, 3, 3, { strides: 2, padding: 'valid' });
    const branchPool = maxPool(x);
    x = concat([branch3x3, branch3x3dbl, branchPool], 'mixed3');
  }

  // mixed4..mixed7: factorised 7x7 blocks; the inner width grows 128, 160, 160, 192.
  for (const [i, width] of [128, 160, 160, 192].entries()) {
    const branch1x1 = convBn(x, 192, 1, 1);
    let branch7x7 = convBn(x, width, 1, 1);
    branch7x7 = convBn(branch7x7, width, 1, 7);
    branch7x7 = convBn(branch7x7, 192, 7, 1);
    let branch7x7dbl = convBn(x, width, 1, 1);
    branch7x7dbl = convBn(branch7x7dbl, width, 7, 1);
    branch7x7dbl = convBn(branch7x7dbl, width, 1, 7);
    branch7x7dbl = convBn(branch7x7dbl, width, 7, 1);
    branch7x7dbl = convBn(branch7x7dbl, 192, 1, 7);
    const branchPool = convBn(avgPool(x), 192, 1, 1);
    x = concat([branch1x1, branch7x7, branch7x7dbl, branchPool], `mixed${4 + i}`);
  }

  // mixed8: grid reduction to 8x8.
  {
    let branch3x3 = convBn(x, 192, 1, 1);
    branch3x3 = convBn(branch3x3, 320, 3, 3, { strides: 2, padding: 'valid' });
    let branch7x7x3 = convBn(x, 192, 1, 1);
    branch7x7x3 = convBn(branch7x7x3, 192, 1, 7);
    branch7x7x3 = convBn(branch7x7x3, 192, 7, 1);
    branch7x7x3 = convBn(branch7x7x3, 192, 3, 3, { strides: 2, padding: 'valid' });
    const branchPool = maxPool(x);
    x = concat([branch3x3, branch7x7x3, branchPool], 'mixed8');
  }

  // mixed9, mixed10: expanded-filter-bank blocks, 2048 channels.
  for (let i = 0; i < 2; i++) {
    const branch1x1 = convBn(x, 320, 1, 1);
    const branch3x3In = convBn(x, 384, 1, 1);
    const branch3x3 = concat([convBn(branch3x3In, 384, 1, 3), convBn(branch3x3In, 384, 3, 1)], `mixed9_${i}`);
    let branch3x3dblIn = convBn(x, 448, 1, 1);
    branch3x3dblIn = convBn(branch3x3dblIn, 384, 3, 3);
    const branch3x3dbl = concat([convBn(branch3x3dblIn, 384, 1, 3), convBn(branch3x3dblIn, 384, 3, 1)]);
    const branchPool = convBn(avgPool(x), 192, 1, 1);
    x = concat([branch1x1, branch3x3, branch3x3dbl, branchPool], `mixed${9 + i}`);
  }

  return tf.model({ inputs: input, outputs: x, name: 'inception_v3' });
}

/** Keras `preprocess_input` for InceptionV3. */
export const INCEPTION_V3_PIXEL_SCALING: PixelScaling = SYMMETRIC_UNIT;
export const preprocessInceptionV3 = (pixels: tf.Tensor): tf.Tensor => scalePixels(pixels, INCEPTION_V3_PIXEL_SCALING);
