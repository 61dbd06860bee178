import type * as tf from '@tensorflow/tfjs';
import { UserError } from '@flowers/core';
import type { OnnxGraph } from '@flowers/core/onnx';
import type { GradientTape, Value } from '../tape.ts';

/** What a layer's graph writer gets. */
export interface LayerContext {
  tape: GradientTape;
  graph: OnnxGraph;
  layer: tf.layers.Layer;
  config: Record<string, unknown>;
  /** Graph inputs holding this layer's trainable weights, in `layer.trainableWeights` order. */
  weights: string[];
  /** Names weight `index`'s gradient (the training graph outputs it). */
  setWeightGradient(index: number, gradient: string): void;
  /** false in the inference graph: no dropout, no gradients needed. */
  training: boolean;
  /** A per-step graph input holding this layer's dropout mask for rows of `shape`. */
  dropoutMask(shape: number[]): string;
}

/** Writes a Keras layer's forward pass (and, through the tape, its backward pass); returns its output. */
export type LayerWriter = (context: LayerContext, input: Value) => Value;

/** A model the training graph cannot express: it trains on TensorFlow.js instead. */
export class UnsupportedForOnnx extends UserError {}

export function unsupported(layer: tf.layers.Layer, why: string): UnsupportedForOnnx {
  return new UnsupportedForOnnx(`layer '${layer.name}' (${layer.getClassName()}) ${why}`);
}

/** The activations a layer may apply itself; softmax only ends the model (the loss differentiates it). */
export function activationOf(context: LayerContext): 'relu' | 'linear' | 'softmax' {
  const activation = context.config.activation ?? 'linear';
  if (activation === 'relu' || activation === 'linear' || activation === 'softmax') return activation;
  throw unsupported(context.layer, `has activation '${String(activation)}'`);
}
