import * as tf from '@tensorflow/tfjs';
import { batchMatMulConfig } from './batch_mat_mul.ts';
import { conv2DBackpropFilterConfig } from './conv2d_backprop_filter.ts';
import { conv2DBackpropInputConfig } from './conv2d_backprop_input.ts';
import { depthwiseConv2dNativeBackpropFilterConfig } from './depthwise_conv2d_native_backprop_filter.ts';
import { depthwiseConv2dNativeBackpropInputConfig } from './depthwise_conv2d_native_backprop_input.ts';
import { maxPoolGradConfig } from './max_pool_grad.ts';
import { rememberOriginalKernel } from './original_kernels.ts';

// Found by training the scratch CNN, MobileNetV2 and InceptionV3 top blocks on wasm with model.fit
// and optimizer.minimize, and comparing every variable's gradient with the cpu backend's.
/** Gradient kernels tfjs-backend-wasm 4.22 does not have. */
const MISSING_KERNELS: readonly tf.KernelConfig[] = [
  conv2DBackpropFilterConfig,
  depthwiseConv2dNativeBackpropFilterConfig,
  depthwiseConv2dNativeBackpropInputConfig,
];
/** Gradient kernels tfjs-backend-wasm 4.22 has but computes wrongly (MaxPoolGrad) or slowly. */
const REPLACED_KERNELS: readonly tf.KernelConfig[] = [maxPoolGradConfig, conv2DBackpropInputConfig, batchMatMulConfig];

/**
 * Registers, for the 'wasm' backend, the gradient kernels it needs to train conv nets correctly:
 * the missing ones (left alone if something else registered them since) and replacements for
 * wrong or slow ones. Idempotent. Returns the names of the kernels this call registered.
 */
export function registerTrainingKernels(): string[] {
  const registered: string[] = [];
  for (const config of [...MISSING_KERNELS, ...REPLACED_KERNELS]) {
    const current = tf.getKernel(config.kernelName, config.backendName);
    if (current?.kernelFunc === config.kernelFunc) continue;
    if (current !== undefined) {
      if (!REPLACED_KERNELS.includes(config)) continue;
      rememberOriginalKernel(config.kernelName, current.kernelFunc);
      tf.unregisterKernel(config.kernelName, config.backendName);
    }
    tf.registerKernel(config);
    registered.push(config.kernelName);
  }
  return registered;
}
