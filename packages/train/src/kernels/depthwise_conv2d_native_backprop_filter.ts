import * as tf from '@tensorflow/tfjs';
import { explicitPadding } from './conv_padding.ts';
import { inWasmKernelScope } from './wasm_kernel_scope.ts';

/** [fh, fw, channels, fh*fw] filter whose output channel c*fh*fw + k copies input channel c at tap k. */
function oneHotTapFilter(filterHeight: number, filterWidth: number, channels: number): Float32Array {
  const taps = filterHeight * filterWidth;
  const values = new Float32Array(taps * channels * taps);
  for (let tap = 0; tap < taps; tap++) {
    for (let c = 0; c < channels; c++) values[(tap * channels + c) * taps + tap] = 1;
  }
  return values;
}

/**
 * Gradient of DepthwiseConv2dNative with respect to its filter:
 *   dW[i, j, c, m] = sum over n, y, x of xPadded[n, y*s + i*d, x*s + j*d, c] * dy[n, y, x, c*M + m].
 * The input patches come from one depthwise convolution with one-hot filters, so strides, dilations
 * and padding follow the forward op's own geometry. Their products with dy are summed over all
 * positions by a ones-row matMul, which the wasm backend runs far faster than a Sum over axis 0.
 */
function depthwiseConv2dNativeBackpropFilter({ inputs, attrs, backend }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const { x, dy } = inputs as tf.DepthwiseConv2dNativeBackpropFilterInputs;
  const { strides, dilations, pad, dimRoundingMode, filterShape } =
    attrs as unknown as tf.DepthwiseConv2dNativeBackpropFilterAttrs;
  const info = tf.backend_util.computeConv2DInfo(
    x!.shape as [number, number, number, number], filterShape, strides, dilations, pad, dimRoundingMode, true);
  const [filterHeight, filterWidth, channels, multiplier] = filterShape;
  const taps = filterHeight * filterWidth;
  const positions = dy!.shape[0]! * dy!.shape[1]! * dy!.shape[2]!;
  return inWasmKernelScope(backend, (scope) => {
    const tapFilter = scope.constant([filterHeight, filterWidth, channels, taps], oneHotTapFilter(filterHeight, filterWidth, channels));
    const patches = scope.run(tf.DepthwiseConv2dNative, { x: x!, filter: tapFilter }, { strides, dilations, pad: explicitPadding(info) });
    const products = scope.run(tf.Multiply, {
      a: scope.reshape(patches, [positions, channels, taps, 1]),
      b: scope.reshape(dy!, [positions, channels, 1, multiplier]),
    });
    const ones = scope.constant([1, positions], new Float32Array(positions).fill(1));
    const sums = scope.run(tf.BatchMatMul,
      { a: ones, b: scope.reshape(products, [positions, channels * taps * multiplier]) },
      { transposeA: false, transposeB: false });
    return scope.transpose(scope.reshape(sums, [channels, filterHeight, filterWidth, multiplier]), [1, 2, 0, 3]);
  });
}

export const depthwiseConv2dNativeBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.DepthwiseConv2dNativeBackpropFilter,
  backendName: 'wasm',
  kernelFunc: depthwiseConv2dNativeBackpropFilter,
};
