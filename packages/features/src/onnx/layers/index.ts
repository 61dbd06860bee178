import { convertActivation, convertReLU } from './activation.ts';
import { convertBatchNormalization } from './batch_normalization.ts';
import type { LayerConverter } from './converter.ts';
import { convertAdd, convertConcatenate } from './merge.ts';
import { convertAveragePooling2D, convertMaxPooling2D } from './pooling.ts';
import { convertZeroPadding2D } from './zero_padding.ts';

export { convertConvolution } from './convolution.ts';
export { unsupported, type LayerConverter } from './converter.ts';

/**
 * Converters for the layers the plan leaves unfused, by Keras class name; a layer missing here
 * is an export error naming it. Convolutions come fused from the plan (convolution.ts).
 */
export const LAYER_CONVERTERS: Readonly<Record<string, LayerConverter>> = {
  Activation: convertActivation,
  ReLU: convertReLU,
  BatchNormalization: convertBatchNormalization,
  ZeroPadding2D: convertZeroPadding2D,
  MaxPooling2D: convertMaxPooling2D,
  AveragePooling2D: convertAveragePooling2D,
  Concatenate: convertConcatenate,
  Add: convertAdd,
};
