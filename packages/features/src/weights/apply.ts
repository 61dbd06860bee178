import * as tf from '@tensorflow/tfjs';
import { UserError } from '@flowers/core';
import { disposeLayerWeights, type LayerWeights } from './layer_weights.ts';

const shapesText = (shapes: ReadonlyArray<ReadonlyArray<number | null>>): string =>
  `[${shapes.map((s) => `[${s.join(',')}]`).join(', ')}]`;

/**
 * Sets every weighted layer of `model` from `layers`, matched by layer name. Any layer the
 * model has but the weights lack, any weights for a layer the model does not have, and any
 * count or shape difference is a one-line error naming `source`, the layer and the shapes.
 * Consumes `layers`: its tensors are disposed whether or not it succeeds.
 */
export function applyLayerWeights(model: tf.LayersModel, layers: LayerWeights, source: string): void {
  try {
    const weighted = model.layers.filter((layer) => layer.weights.length > 0);
    const modelNames = new Set(weighted.map((layer) => layer.name));
    const unknown = [...layers.keys()].filter((name) => !modelNames.has(name));
    if (unknown.length > 0) {
      throw new UserError(
        `weights ${source} have layer '${unknown[0]}'${unknown.length > 1 ? ` (and ${unknown.length - 1} more)` : ''} that model ${model.name} does not have; wrong architecture for these weights?`,
      );
    }
    for (const layer of weighted) {
      const tensors = layers.get(layer.name);
      const expected = layer.weights.map((w) => w.shape);
      if (tensors === undefined) {
        throw new UserError(`weights ${source} have no layer '${layer.name}' (model ${model.name} expects shapes ${shapesText(expected)})`);
      }
      const actual = tensors.map((t) => t.shape);
      const same =
        actual.length === expected.length &&
        actual.every((shape, i) => shape.length === expected[i]!.length && shape.every((dim, d) => dim === expected[i]![d]));
      if (!same) {
        throw new UserError(`weights ${source}, layer '${layer.name}': shapes ${shapesText(actual)} do not fit the model's ${shapesText(expected)}`);
      }
    }
    // Only set once everything matched, so a failure leaves the model untouched.
    for (const layer of weighted) layer.setWeights(layers.get(layer.name)!);
  } finally {
    disposeLayerWeights(layers);
  }
}
