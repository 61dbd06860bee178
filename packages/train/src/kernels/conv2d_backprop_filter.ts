import * as tf from '@tensorflow/tfjs';
import { explicitPadding } from './conv_padding.ts';
import { inWasmKernelScope } from './wasm_kernel_scope.ts';

/**
 * Gradient of Conv2D with respect to its filter:
 *   dW[i, j, c, o] = sum over n, y, x of xPadded[n, y*strideH + i, x*strideW + j, c] * dy[n, y, x, o].
 * That sum is itself a convolution: the input with channels as batch and batch as channels
 * ([Cin, H, W, N]), filtered by dy as [Ho, Wo, N, Cout] dilated by the forward stride. So it runs as
 * one XNNPACK convolution on the forward op's own padding, giving [Cin, fh, fw, Cout] (or more, see below).
 */
function conv2DBackpropFilter({ inputs, attrs, backend }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const { x, dy } = inputs as tf.Conv2DBackpropFilterInputs;
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  const layout = tf.backend_util.convertConv2DDataFormat(dataFormat);
  const info = tf.backend_util.computeConv2DInfo(
    x!.shape as [number, number, number, number], filterShape, strides, 1, pad, dimRoundingMode, false, layout);
  const channelsLast = layout === 'channelsLast';
  const [filterHeight, filterWidth, inChannels, outChannels] = filterShape;
  return inWasmKernelScope(backend, (scope) => {
    const channelsAsBatch = scope.transpose(x!, channelsLast ? [3, 1, 2, 0] : [1, 2, 3, 0]);
    const dyAsFilter = scope.transpose(dy!, channelsLast ? [1, 2, 0, 3] : [2, 3, 0, 1]);
    const gradient = scope.run(tf.Conv2D, { x: channelsAsBatch, filter: dyAsFilter }, {
      strides: [1, 1],
      dilations: [info.strideHeight, info.strideWidth],
      pad: explicitPadding(info),
      dataFormat: 'NHWC',
    });
    // Input rows/columns the forward convolution never reached add outputs past the filter size.
    const trimmed = gradient.shape[1] === filterHeight && gradient.shape[2] === filterWidth
      ? gradient
      : scope.run(tf.Slice, { x: gradient }, { begin: [0, 0, 0, 0], size: [inChannels, filterHeight, filterWidth, outChannels] });
    return scope.transpose(trimmed, [1, 2, 0, 3]);
  });
}

export const conv2DBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropFilter,
};
