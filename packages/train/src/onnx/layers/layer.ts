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
  /** The graph input holding this layer's weight `name` ('kernel', 'beta', 'moving_mean'...), trainable or not; undefined if it has none. */
  weight(name: string): string | undefined;
  /** Writes weight `name`'s gradient, which the training graph outputs, if that weight trains (else the nodes would be dead). */
  setWeightGradient(name: string, write: () => string): void;
  /** The value non-trainable weight `name` takes after this step (batch norm's moving statistics); the trainer writes it back. */
  setWeightUpdate(name: string, value: string): void;
  /** false in the inference graph: no dropout, no gradients needed. */
  training: boolean;
  /** A per-step graph input holding this layer's dropout mask for rows of `shape`. */
  dropoutMask(shape: number[]): string;
}

/** Writes a Keras layer's forward pass (and, through the tape, its backward pass) on its inputs; returns its output. */
export type LayerWriter = (context: LayerContext, inputs: [Value, ...Value[]]) => Value;

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
