import { writeActivation } from './activation.ts';
import { writeAdd } from './add.ts';
import { writeAveragePooling2D } from './average_pooling2d.ts';
import { writeBatchNormalization } from './batch_normalization.ts';
import { writeConcatenate } from './concatenate.ts';
import { writeConv2D } from './conv2d.ts';
import { writeDense } from './dense.ts';
import { writeDepthwiseConv2D } from './depthwise_conv2d.ts';
import { writeDropout } from './dropout.ts';
import { writeFlatten } from './flatten.ts';
import { writeGlobalAveragePooling2D } from './global_average_pooling2d.ts';
import type { LayerWriter } from './layer.ts';
import { writeMaxPooling2D } from './max_pooling2d.ts';
import { writeReLU } from './re_lu.ts';
import { writeZeroPadding2D } from './zero_padding2d.ts';

export { UnsupportedForOnnx, unsupported, type LayerContext, type LayerWriter } from './layer.ts';

/** The layers a training graph can hold, by Keras class name; any other keeps the model on TensorFlow.js. */
export const LAYER_WRITERS: Readonly<Record<string, LayerWriter>> = {
  Conv2D: writeConv2D,
  DepthwiseConv2D: writeDepthwiseConv2D,
  ZeroPadding2D: writeZeroPadding2D,
  BatchNormalization: writeBatchNormalization,
  Activation: writeActivation,
  ReLU: writeReLU,
  Add: writeAdd,
  MaxPooling2D: writeMaxPooling2D,
  AveragePooling2D: writeAveragePooling2D,
  Concatenate: writeConcatenate,
  Flatten: writeFlatten,
  GlobalAveragePooling2D: writeGlobalAveragePooling2D,
  Dense: writeDense,
  Dropout: writeDropout,
};

/** Layers that apply a pending ReLU themselves (see Value.pending); before any other, it is applied first. */
export const TAKES_PENDING_RELU: ReadonlySet<string> = new Set(['MaxPooling2D']);
