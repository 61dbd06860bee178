import type * as tf from '@tensorflow/tfjs';
import { UserError } from '@flowers/core';
import { buildInceptionV3, INCEPTION_V3_MIN_SIZE, INCEPTION_V3_PIXEL_SCALING } from './inception_v3.ts';
import { buildMobileNetV2, MOBILENET_V2_MIN_SIZE, MOBILENET_V2_PIXEL_SCALING, type MobileNetV2Alpha } from './mobilenet_v2.ts';
import type { PixelScaling } from './preprocess.ts';

export { splitAtLayer } from './split.ts';
export { scalePixels, type PixelScaling } from './preprocess.ts';
export { buildInceptionV3, INCEPTION_V3_MIN_SIZE, preprocessInceptionV3 } from './inception_v3.ts';
export { buildMobileNetV2, MOBILENET_V2_ALPHAS, MOBILENET_V2_MIN_SIZE, preprocessMobileNetV2, type MobileNetV2Alpha } from './mobilenet_v2.ts';

export const BASE_NAMES = ['inception_v3', 'mobilenet_v2'] as const;
export type BaseName = (typeof BASE_NAMES)[number];

export interface BaseOptions {
  inputSize: number;
  /** MobileNetV2 width multiplier (default 1.0); InceptionV3 has none. */
  alpha?: MobileNetV2Alpha;
}

export interface BaseInfo {
  minInputSize: number;
  /** Channels of the base's output feature map. */
  outputChannels: number;
  /**
   * Default layer to split at for fine-tuning: everything after it is trainable, and it is a
   * clean block boundary (later layers read only its output), so splitAtLayer works on it.
   */
  fineTuneFrom: string;
  /** Keras preprocess_input: pixels in [0, 255] to the range the weights expect (see scalePixels). */
  pixelScaling: PixelScaling;
}

export const BASES: Readonly<Record<BaseName, BaseInfo>> = {
  // The Keras fine-tuning example trains the top two inception blocks (mixed9, mixed10).
  inception_v3: { minInputSize: INCEPTION_V3_MIN_SIZE, outputChannels: 2048, fineTuneFrom: 'mixed8', pixelScaling: INCEPTION_V3_PIXEL_SCALING },
  // block_13 halves the grid and has no residual, so block_14 onwards read only its output.
  mobilenet_v2: { minInputSize: MOBILENET_V2_MIN_SIZE, outputChannels: 1280, fineTuneFrom: 'block_13_project_BN', pixelScaling: MOBILENET_V2_PIXEL_SCALING },
};

export function buildBase(name: BaseName, { inputSize, alpha }: BaseOptions): tf.LayersModel {
  switch (name) {
    case 'inception_v3':
      return buildInceptionV3({ inputSize });
    case 'mobilenet_v2':
      return buildMobileNetV2({ alpha: alpha ?? 1.0, inputSize });
    default:
      throw new UserError(`unknown base '${name as string}'; expected one of ${BASE_NAMES.join(', ')}`);
  }
}
