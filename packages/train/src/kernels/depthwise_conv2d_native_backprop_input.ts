import * as tf from '@tensorflow/tfjs';
import { inWasmKernelScope } from './wasm_kernel_scope.ts';

/**
 * Gradient of DepthwiseConv2dNative with respect to its input, as a forward depthwise convolution:
 *   dx[n, a, b, c] = sum over i, j, m of spread[n, a + padTop - i*d, b + padLeft - j*d, c*M + m] * W[i, j, c, m],
 * where `spread` is dy with stride-1 zeros after each value along rows and columns. That is a
 * correlation of `spread`, padded by (effective filter size - 1 - forward pad) in front, with the
 * filter flipped in both spatial axes; XNNPACK runs it. Channel multipliers above 1 sum one such
 * correlation per multiplier index.
 */
function depthwiseConv2dNativeBackpropInput({ inputs, attrs, backend }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const { dy, filter } = inputs as tf.DepthwiseConv2dNativeBackpropInputInputs;
  const { strides, dilations, pad, dimRoundingMode, inputShape } =
    attrs as unknown as tf.DepthwiseConv2dNativeBackpropInputAttrs;
  const filterShape = filter!.shape as [number, number, number, number];
  const info = tf.backend_util.computeConv2DInfo(inputShape, filterShape, strides, dilations, pad, dimRoundingMode, true);
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, strideHeight, strideWidth } = info;
  const multiplier = filterShape[3];
  const before = [info.effectiveFilterHeight - 1 - info.padInfo.top, info.effectiveFilterWidth - 1 - info.padInfo.left];
  const after = [inHeight + info.padInfo.top - outHeight * strideHeight, inWidth + info.padInfo.left - outWidth * strideWidth];
  const spreadShape = [batchSize, outHeight * strideHeight, outWidth * strideWidth, inChannels];
  return inWasmKernelScope(backend, (scope) => {
    const spread = strideHeight === 1 && strideWidth === 1
      ? dy!
      : scope.reshape(scope.run(tf.PadV2,
        { x: scope.reshape(dy!, [batchSize * outHeight, 1, outWidth, 1, inChannels * multiplier]) },
        { paddings: [[0, 0], [0, strideHeight - 1], [0, 0], [0, strideWidth - 1], [0, 0]], constantValue: 0 }),
      [...spreadShape.slice(0, 3), inChannels * multiplier]);
    const flipped = scope.run(tf.Reverse, { x: filter! }, { dims: [0, 1] });
    // Negative amounts (explicit forward padding beyond the filter's reach) are trimmed off the result below.
    const correlationPad = [[0, 0], [Math.max(0, before[0]!), Math.max(0, after[0]!)], [Math.max(0, before[1]!), Math.max(0, after[1]!)], [0, 0]];
    const correlate = (signal: tf.TensorInfo, kernel: tf.TensorInfo): tf.TensorInfo =>
      scope.run(tf.DepthwiseConv2dNative, { x: signal, filter: kernel }, { strides: 1, dilations, pad: correlationPad });
    let dx: tf.TensorInfo;
    if (multiplier === 1) {
      dx = correlate(spread, flipped);
    } else {
      // Input channel c receives dy channels c*M + m through W[:, :, c, m]; put m first so each slice is contiguous.
      const spreadByIndex = scope.transpose(scope.reshape(spread, [...spreadShape, multiplier]), [4, 0, 1, 2, 3]);
      const flippedByIndex = scope.transpose(flipped, [3, 0, 1, 2]);
      const spatialFilterShape = filterShape.slice(0, 3);
      const correlateIndex = (m: number): tf.TensorInfo => correlate(
        scope.reshape(scope.run(tf.Slice, { x: spreadByIndex }, { begin: [m, 0, 0, 0, 0], size: [1, ...spreadShape] }), spreadShape),
        scope.reshape(scope.run(tf.Slice, { x: flippedByIndex }, { begin: [m, 0, 0, 0], size: [1, ...spatialFilterShape] }), [...spatialFilterShape, 1]));
      dx = correlateIndex(0);
      for (let m = 1; m < multiplier; m++) dx = scope.run(tf.Add, { a: dx, b: correlateIndex(m) });
    }
    if (dx.shape[1] === inHeight && dx.shape[2] === inWidth) return dx;
    return scope.run(tf.Slice, { x: dx }, {
      begin: [0, Math.max(0, -before[0]!), Math.max(0, -before[1]!), 0],
      size: [batchSize, inHeight, inWidth, inChannels],
    });
  });
}

export const depthwiseConv2dNativeBackpropInputConfig: tf.KernelConfig = {
  kernelName: tf.DepthwiseConv2dNativeBackpropInput,
  backendName: 'wasm',
  kernelFunc: depthwiseConv2dNativeBackpropInput,
};
