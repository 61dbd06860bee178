import * as tf from '@tensorflow/tfjs';
import { codeVersionOf, installedVersion } from '@flowers/core';

/** The features code (see codeVersionOf): the exported ONNX graphs depend on it, as the features do. */
export const featuresCodeVersion = async (): Promise<string> => (await codeVersionOf('@flowers/features', featuresLibraries())).version;

/** The libraries that compute the features. */
export function featuresLibraries(): Record<string, string> {
  return { tfjs: tf.version.tfjs, 'onnxruntime-node': installedVersion('onnxruntime-node') };
}
