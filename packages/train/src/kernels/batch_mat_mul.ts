import * as tf from '@tensorflow/tfjs';
import { originalKernel } from './original_kernels.ts';
import { inWasmKernelScope } from './wasm_kernel_scope.ts';

/**
 * BatchMatMul with transposed operands. The wasm backend's own kernel is about 15x slower when
 * asked to transpose (measured: [64,1280]^T x [64,128] takes 17.7 ms, against 1.9 ms for an
 * explicit Transpose followed by a plain product), and every Dense layer's gradient asks for
 * exactly that. So transpose explicitly, then multiply without flags.
 */
function batchMatMul({ inputs, attrs, backend }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const wasmBatchMatMul = originalKernel(tf.BatchMatMul);
  const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
  if (!transposeA && !transposeB) return wasmBatchMatMul({ inputs, attrs, backend }) as tf.TensorInfo;
  const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  return inWasmKernelScope(backend, (scope) => {
    const swapLastTwo = (x: tf.TensorInfo): tf.TensorInfo => {
      const rank = x.shape.length;
      return scope.transpose(x, [...Array.from({ length: rank - 2 }, (_, i) => i), rank - 1, rank - 2]);
    };
    return wasmBatchMatMul({
      inputs: { a: transposeA ? swapLastTwo(a) : a, b: transposeB ? swapLastTwo(b) : b },
      attrs: { ...attrs, transposeA: false, transposeB: false },
      backend,
    }) as tf.TensorInfo;
  });
}

export const batchMatMulConfig: tf.KernelConfig = { kernelName: tf.BatchMatMul, backendName: 'wasm', kernelFunc: batchMatMul as tf.KernelFunc };
