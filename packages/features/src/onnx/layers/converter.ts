import type * as tf from '@tensorflow/tfjs';
import { UserError } from '@flowers/core';
import type { OnnxGraph } from '@flowers/core/onnx';

export type LayerConfig = Record<string, unknown>;

/** What a converter gets: the layer, its inputs as NCHW tensor names, and their NHWC row shapes. */
export interface ConvertContext {
  graph: OnnxGraph;
  layer: tf.layers.Layer;
  config: LayerConfig;
  inputs: string[];
  /** [height, width, channels] of each input. */
  inputShapes: number[][];
}

/** Writes one Keras layer as ONNX nodes on NCHW tensors; returns the output tensor's name. */
export type LayerConverter = (context: ConvertContext) => string;

/** The one way a converter refuses a layer: an error naming it, never a silently wrong graph. */
export function unsupported(layer: tf.layers.Layer, why: string): UserError {
  return new UserError(`ONNX export: layer '${layer.name}' (${layer.getClassName()}) ${why}`);
}
