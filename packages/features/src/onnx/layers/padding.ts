import { samePadding, type Pair } from '../../inference_plan.ts';

/**
 * ONNX's explicit [top, left, bottom, right] for a window over a [height, width] input: none for
 * 'valid', TensorFlow's 'same' (the odd extra row and column at the end, ONNX SAME_UPPER) for
 * 'same'. Explicit, because ONNX rejects auto_pad SAME_* with dilations.
 */
export function explicitPads(padding: string, inputShape: number[], kernel: Pair, strides: Pair, dilations: Pair = [1, 1]): number[] {
  if (padding === 'valid') return [0, 0, 0, 0];
  const [top, bottom] = samePadding(inputShape[0]!, kernel[0], strides[0], dilations[0]);
  const [left, right] = samePadding(inputShape[1]!, kernel[1], strides[1], dilations[1]);
  return [top, left, bottom, right];
}
