import * as tf from '@tensorflow/tfjs';
import { inputGradient } from './input_gradient.ts';
import { inWasmKernelScope } from './wasm_kernel_scope.ts';

/**
 * Gradient of Conv2D with respect to its input: a forward XNNPACK convolution of the stride-spread
 * dy with the flipped filter, its in/out channels swapped (see input_gradient.ts). Replaces
 * tfjs-backend-wasm 4.22's own Conv2DBackpropInput, a plain loop about ten times slower than the
 * forward convolution and the bulk of a training step's time.
 */
function conv2DBackpropInput({ inputs, attrs, backend }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const { dy, filter } = inputs as tf.Conv2DBackpropInputInputs;
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs as unknown as tf.Conv2DBackpropInputAttrs;
  const layout = tf.backend_util.convertConv2DDataFormat(dataFormat);
  const info = tf.backend_util.computeConv2DInfo(
    inputShape, filter!.shape as [number, number, number, number], strides, 1, pad, dimRoundingMode, false, layout);
  const channelsLast = layout === 'channelsLast';
  return inWasmKernelScope(backend, (scope) => {
    const flippedSwapped = scope.transpose(scope.run(tf.Reverse, { x: filter! }, { dims: [0, 1] }), [0, 1, 3, 2]);
    const dx = inputGradient(scope, channelsLast ? dy! : scope.transpose(dy!, [0, 2, 3, 1]), info, (spread, correlationPad) =>
      scope.run(tf.Conv2D, { x: spread, filter: flippedSwapped }, { strides: 1, dilations: 1, pad: correlationPad, dataFormat: 'NHWC' }));
    return channelsLast ? dx : scope.transpose(dx, [0, 3, 1, 2]);
  });
}

export const conv2DBackpropInputConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropInput,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropInput,
};
