import * as tf from '@tensorflow/tfjs';

/**
 * The convolution's padding as explicit NHWC amounts for XNNPACK, which always rounds output sizes
 * down: with dimRoundingMode 'ceil' or 'round' the last windows reach past the given padding, so
 * the bottom/right padding grows until a rounded-down size equals `info`'s output size.
 */
export function explicitPadding(info: tf.backend_util.Conv2DInfo): tf.backend_util.ExplicitPadding {
  const { top, bottom, left, right } = info.padInfo;
  const extraRows = Math.max(0, (info.outHeight - 1) * info.strideHeight + info.effectiveFilterHeight - (info.inHeight + top + bottom));
  const extraCols = Math.max(0, (info.outWidth - 1) * info.strideWidth + info.effectiveFilterWidth - (info.inWidth + left + right));
  return [[0, 0], [top, bottom + extraRows], [left, right + extraCols], [0, 0]];
}
