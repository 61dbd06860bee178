import * as tf from '@tensorflow/tfjs';
import type { WasmKernelScope } from './wasm_kernel_scope.ts';

/** Correlates `signal` (NHWC) at stride 1 with the spatially flipped filter, padded by `pad`. */
export type FlippedCorrelation = (signal: tf.TensorInfo, pad: tf.backend_util.ExplicitPadding) => tf.TensorInfo;

/**
 * A convolution's gradient with respect to its input, as a stride-1 forward correlation:
 *   dx[n, a, b, :] = sum over i, j of spread[n, a + padTop - i*d, b + padLeft - j*d, :] . W[i, j]
 * where `spread` is dy (NHWC) with stride-1 zeros after each value along rows and columns. That is
 * `spread`, padded by (effective filter size - 1 - forward padding) in front, correlated with the
 * flipped filter. Padding amounts that come out negative (explicit forward padding beyond the
 * filter's reach, or windows past the input under 'ceil' rounding) are trimmed off the result.
 */
export function inputGradient(
  scope: WasmKernelScope, dy: tf.TensorInfo, info: tf.backend_util.Conv2DInfo, correlate: FlippedCorrelation,
): tf.TensorInfo {
  const { batchSize, inHeight, inWidth, outHeight, outWidth, strideHeight, strideWidth } = info;
  const dyChannels = dy.shape[3]!;
  const spread = strideHeight === 1 && strideWidth === 1
    ? dy
    : scope.reshape(scope.run(tf.PadV2,
      { x: scope.reshape(dy, [batchSize * outHeight, 1, outWidth, 1, dyChannels]) },
      { paddings: [[0, 0], [0, strideHeight - 1], [0, 0], [0, strideWidth - 1], [0, 0]], constantValue: 0 }),
    [batchSize, outHeight * strideHeight, outWidth * strideWidth, dyChannels]);
  const top = info.effectiveFilterHeight - 1 - info.padInfo.top;
  const left = info.effectiveFilterWidth - 1 - info.padInfo.left;
  const bottom = inHeight + info.padInfo.top - outHeight * strideHeight;
  const right = inWidth + info.padInfo.left - outWidth * strideWidth;
  const dx = correlate(spread, [[0, 0], [Math.max(0, top), Math.max(0, bottom)], [Math.max(0, left), Math.max(0, right)], [0, 0]]);
  if (dx.shape[1] === inHeight && dx.shape[2] === inWidth) return dx;
  return scope.run(tf.Slice, { x: dx }, {
    begin: [0, Math.max(0, -top), Math.max(0, -left), 0],
    size: [batchSize, inHeight, inWidth, dx.shape[3]!],
  });
}
