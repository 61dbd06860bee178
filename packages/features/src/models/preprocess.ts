import * as tf from '@tensorflow/tfjs';

/** Pixels in [0, 255] to pixels / divisor + offset: what a base's weights expect, as data for every engine. */
export interface PixelScaling {
  divisor: number;
  offset: number;
}

/** Keras `imagenet_utils.preprocess_input` in 'tf' mode (InceptionV3, MobileNetV2): [0, 255] to [-1, 1]. */
export const SYMMETRIC_UNIT: PixelScaling = { divisor: 127.5, offset: -1 };

/** Applies a scaling on TensorFlow.js: uint8 or float pixels to float32. */
export function scalePixels(x: tf.Tensor, { divisor, offset }: PixelScaling): tf.Tensor {
  return tf.tidy(() => tf.add(tf.div(tf.cast(x, 'float32'), divisor), offset));
}
