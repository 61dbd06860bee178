import * as tf from '@tensorflow/tfjs';
import type { WasmBackend } from './wasm_kernel_scope.ts';

/**
 * Gradient of MaxPool: each dy value goes to the first largest input of its window (row-major scan,
 * as the cpu backend and TensorFlow do). Replaces tfjs-backend-wasm 4.22's own MaxPoolGrad, which
 * drops the gradient of every channel but the first. A single pass in JavaScript over the wasm heap:
 * only comparisons, no arithmetic worth a native kernel.
 */
function maxPoolGrad({ inputs, attrs, backend }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const { dy, input } = inputs as tf.MaxPoolGradInputs;
  const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as tf.MaxPoolGradAttrs;
  const info = tf.backend_util.computePool2DInfo(
    input!.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
  const { batchSize, inHeight, inWidth, inChannels: channels, outHeight, outWidth, strideHeight, strideWidth } = info;
  const wasm = backend as WasmBackend;
  const dx = wasm.makeOutput(input!.shape, 'float32');
  // Views taken after the only allocation, so heap growth cannot detach them.
  const dxValues = wasm.typedArrayFromHeap(dx) as Float32Array;
  const xValues = wasm.typedArrayFromHeap(input!) as Float32Array;
  const dyValues = wasm.typedArrayFromHeap(dy!) as Float32Array;
  dxValues.fill(0);
  const best = new Float32Array(channels);
  const bestAt = new Int32Array(channels);
  for (let b = 0; b < batchSize; b++) {
    for (let yR = 0; yR < outHeight; yR++) {
      const rowCorner = yR * strideHeight - info.padInfo.top;
      const rowStart = Math.max(0, rowCorner);
      const rowEnd = Math.min(inHeight, rowCorner + info.effectiveFilterHeight);
      for (let yC = 0; yC < outWidth; yC++) {
        const colCorner = yC * strideWidth - info.padInfo.left;
        const colStart = Math.max(0, colCorner);
        const colEnd = Math.min(inWidth, colCorner + info.effectiveFilterWidth);
        best.fill(-Infinity);
        bestAt.fill(-1);
        for (let xR = rowStart; xR < rowEnd; xR++) {
          for (let xC = colStart; xC < colEnd; xC++) {
            const base = ((b * inHeight + xR) * inWidth + xC) * channels;
            for (let d = 0; d < channels; d++) {
              const value = xValues[base + d]!;
              if (value > best[d]!) {
                best[d] = value;
                bestAt[d] = base + d;
              }
            }
          }
        }
        const dyBase = ((b * outHeight + yR) * outWidth + yC) * channels;
        for (let d = 0; d < channels; d++) {
          const at = bestAt[d]!;
          if (at >= 0) dxValues[at] = dxValues[at]! + dyValues[dyBase + d]!;
        }
      }
    }
  }
  return dx;
}

export const maxPoolGradConfig: tf.KernelConfig = {
  kernelName: tf.MaxPoolGrad,
  backendName: 'wasm',
  kernelFunc: maxPoolGrad,
};
