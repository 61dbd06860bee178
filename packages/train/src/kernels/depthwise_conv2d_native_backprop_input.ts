import * as tf from '@tensorflow/tfjs';
import { inputGradient } from './input_gradient.ts';
import { inWasmKernelScope } from './wasm_kernel_scope.ts';

/**
 * Gradient of DepthwiseConv2dNative with respect to its input: a forward depthwise correlation of
 * the stride-spread dy with the flipped filter (see input_gradient.ts), which XNNPACK runs. Input
 * channel c gathers dy channels c*M + m through W[:, :, c, m], so a channel multiplier M above 1
 * sums one correlation per m.
 */
function depthwiseConv2dNativeBackpropInput({ inputs, attrs, backend }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const { dy, filter } = inputs as tf.DepthwiseConv2dNativeBackpropInputInputs;
  const { strides, dilations, pad, dimRoundingMode, inputShape } =
    attrs as unknown as tf.DepthwiseConv2dNativeBackpropInputAttrs;
  const filterShape = filter!.shape as [number, number, number, number];
  const info = tf.backend_util.computeConv2DInfo(inputShape, filterShape, strides, dilations, pad, dimRoundingMode, true);
  const [filterHeight, filterWidth, channels, multiplier] = filterShape;
  return inWasmKernelScope(backend, (scope) => {
    const flipped = scope.run(tf.Reverse, { x: filter! }, { dims: [0, 1] });
    const correlate = (signal: tf.TensorInfo, kernel: tf.TensorInfo, correlationPad: tf.backend_util.ExplicitPadding) =>
      scope.run(tf.DepthwiseConv2dNative, { x: signal, filter: kernel }, { strides: 1, dilations, pad: correlationPad });
    return inputGradient(scope, dy!, info, (spread, correlationPad) => {
      if (multiplier === 1) return correlate(spread, flipped, correlationPad);
      // Put m first so that each multiplier index is one contiguous slice.
      const [batch, height, width] = spread.shape as [number, number, number];
      const spreadByIndex = scope.transpose(scope.reshape(spread, [batch, height, width, channels, multiplier]), [4, 0, 1, 2, 3]);
      const flippedByIndex = scope.transpose(flipped, [3, 0, 1, 2]);
      const correlateIndex = (m: number): tf.TensorInfo => correlate(
        scope.reshape(scope.run(tf.Slice, { x: spreadByIndex }, { begin: [m, 0, 0, 0, 0], size: [1, batch, height, width, channels] }),
          [batch, height, width, channels]),
        scope.reshape(scope.run(tf.Slice, { x: flippedByIndex }, { begin: [m, 0, 0, 0], size: [1, filterHeight, filterWidth, channels] }),
          [filterHeight, filterWidth, channels, 1]),
        correlationPad);
      let sum = correlateIndex(0);
      for (let m = 1; m < multiplier; m++) sum = scope.run(tf.Add, { a: sum, b: correlateIndex(m) });
      return sum;
    });
  });
}

export const depthwiseConv2dNativeBackpropInputConfig: tf.KernelConfig = {
  kernelName: tf.DepthwiseConv2dNativeBackpropInput,
  backendName: 'wasm',
  kernelFunc: depthwiseConv2dNativeBackpropInput,
};
