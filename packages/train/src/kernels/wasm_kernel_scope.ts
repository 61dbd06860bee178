import * as tf from '@tensorflow/tfjs';

/** The parts of tfjs-backend-wasm's `BackendWasm` these kernels use beyond `KernelBackend`. */
export interface WasmBackend extends tf.KernelBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

/**
 * Composes the wasm backend's own registered kernels inside a kernel function.
 * A kernel function must hand the engine a backend `TensorInfo`, so tfjs ops (which make engine
 * tensors and record gradients) are out; calling the backend's kernel functions directly is what
 * tfjs-backend-wasm itself does. Every result made here is an intermediate unless returned.
 */
export class WasmKernelScope {
  private readonly intermediates: tf.TensorInfo[] = [];

  constructor(private readonly backend: WasmBackend) {}

  run(kernelName: string, inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap = {}): tf.TensorInfo {
    const kernel = tf.getKernel(kernelName, 'wasm');
    if (kernel === undefined) throw new Error(`wasm training kernels: the wasm backend has no '${kernelName}' kernel to build on`);
    const out = kernel.kernelFunc({ inputs, attrs, backend: this.backend });
    if (Array.isArray(out)) throw new Error(`wasm training kernels: '${kernelName}' returned several tensors, expected one`);
    this.intermediates.push(out);
    return out;
  }

  reshape(x: tf.TensorInfo, shape: number[]): tf.TensorInfo {
    return this.run(tf.Reshape, { x }, { shape });
  }

  transpose(x: tf.TensorInfo, perm: number[]): tf.TensorInfo {
    return this.run(tf.Transpose, { x }, { perm });
  }

  constant(shape: number[], values: Float32Array): tf.TensorInfo {
    const out = this.backend.makeOutput(shape, 'float32');
    // Fill right away: a later allocation may grow the wasm heap and detach this view.
    this.backend.typedArrayFromHeap(out).set(values);
    this.intermediates.push(out);
    return out;
  }

  /** Frees every intermediate except `result` (shared buffers are reference-counted by the backend). */
  disposeAllExcept(result: tf.TensorInfo | undefined): void {
    for (const info of this.intermediates) {
      if (info !== result) this.backend.disposeData(info.dataId);
    }
    this.intermediates.length = 0;
  }
}

/** Runs `body` with a fresh scope and frees its intermediates, also when it throws. */
export function inWasmKernelScope(backend: unknown, body: (scope: WasmKernelScope) => tf.TensorInfo): tf.TensorInfo {
  const scope = new WasmKernelScope(backend as WasmBackend);
  let result: tf.TensorInfo | undefined;
  try {
    result = body(scope);
    return result;
  } finally {
    scope.disposeAllExcept(result);
  }
}
