export type Pair = [number, number];

/** TensorFlow's 'same' padding (before, after) of one spatial dimension: the odd extra at the end. */
export function samePadding(size: number, kernel: number, stride: number, dilation: number): Pair {
  const total = Math.max((Math.ceil(size / stride) - 1) * stride + (kernel - 1) * dilation + 1 - size, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/**
 * ONNX's explicit [top, left, bottom, right] for a window over a [height, width] input: none for
 * 'valid', TensorFlow's 'same' (ONNX SAME_UPPER) for 'same'. Explicit, because ONNX rejects
 * auto_pad SAME_* with dilations.
 */
export function explicitPads(padding: string, inputShape: readonly number[], kernel: Pair, strides: Pair, dilations: Pair = [1, 1]): number[] {
  if (padding === 'valid') return [0, 0, 0, 0];
  const [top, bottom] = samePadding(inputShape[0]!, kernel[0], strides[0], dilations[0]);
  const [left, right] = samePadding(inputShape[1]!, kernel[1], strides[1], dilations[1]);
  return [top, left, bottom, right];
}
