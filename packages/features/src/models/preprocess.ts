import * as tf from '@tensorflow/tfjs';

/**
 * Keras `imagenet_utils.preprocess_input` in 'tf' mode (InceptionV3, MobileNetV2): pixels in
 * [0, 255], uint8 or float, to float32 in [-1, 1].
 */
export function scaleToSymmetricUnit(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.sub(tf.div(tf.cast(x, 'float32'), 127.5), 1));
}
