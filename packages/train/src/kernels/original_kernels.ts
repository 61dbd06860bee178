import type * as tf from '@tensorflow/tfjs';

/** The wasm backend's own kernel functions for the kernels we replace, for replacements that wrap them. */
const originals = new Map<string, tf.KernelFunc>();

export function rememberOriginalKernel(kernelName: string, kernelFunc: tf.KernelFunc): void {
  if (!originals.has(kernelName)) originals.set(kernelName, kernelFunc);
}

export function originalKernel(kernelName: string): tf.KernelFunc {
  const kernelFunc = originals.get(kernelName);
  if (kernelFunc === undefined) throw new Error(`wasm training kernels: the wasm backend's own '${kernelName}' was not recorded before it was replaced`);
  return kernelFunc;
}
