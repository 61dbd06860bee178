import type * as tf from '@tensorflow/tfjs';
import { UserError } from '@flowers/core';
import { disposeLayerWeights, type LayerWeights } from './layer_weights.ts';

const shapesText = (shapes: ReadonlyArray<ReadonlyArray<number | null>>): string =>
  `[${shapes.map((s) => `[${s.join(',')}]`).join(', ')}]`;

const sameShapes = (a: ReadonlyArray<ReadonlyArray<number | null>>, b: ReadonlyArray<ReadonlyArray<number | null>>): boolean =>
  a.length === b.length && a.every((shape, i) => shape.length === b[i]!.length && shape.every((dim, d) => dim === b[i]![d]));

/**
 * Which source layer feeds each weighted model layer: by name; or, when no name matches at all
 * (a Keras file saved under other auto-numbered names), by order, as Keras' own
 * `load_weights(by_name=False)` pairs them. Model and Keras files list layers in the same order.
 */
function pairLayers(model: tf.LayersModel, weighted: tf.layers.Layer[], layers: LayerWeights, source: string): Map<string, string> {
  const modelNames = new Set(weighted.map((layer) => layer.name));
  const sourceNames = [...layers.keys()];
  if (sourceNames.some((name) => modelNames.has(name)) || sourceNames.length !== weighted.length) {
    const unknown = sourceNames.filter((name) => !modelNames.has(name));
    if (unknown.length > 0) {
      throw new UserError(
        `weights ${source} have layer '${unknown[0]}'${unknown.length > 1 ? ` (and ${unknown.length - 1} more)` : ''} that model ${model.name} does not have; wrong architecture for these weights?`,
      );
    }
    return new Map(weighted.map((layer) => [layer.name, layer.name]));
  }
  return new Map(weighted.map((layer, i) => [layer.name, sourceNames[i]!]));
}

/**
 * Sets every weighted layer of `model` from `layers` (see pairLayers). Any layer the model has
 * but the weights lack, any weights for a layer the model does not have, and any count or shape
 * difference is a one-line error naming `source`, the layer and the shapes; the model is then
 * left untouched. Consumes `layers`: its tensors are disposed whether or not it succeeds.
 */
export function applyLayerWeights(model: tf.LayersModel, layers: LayerWeights, source: string): void {
  try {
    const weighted = model.layers.filter((layer) => layer.weights.length > 0);
    const pairs = pairLayers(model, weighted, layers, source);
    for (const layer of weighted) {
      const sourceName = pairs.get(layer.name)!;
      const tensors = layers.get(sourceName);
      const expected = layer.weights.map((w) => w.shape);
      if (tensors === undefined) {
        throw new UserError(`weights ${source} have no layer '${layer.name}' (model ${model.name} expects shapes ${shapesText(expected)})`);
      }
      const actual = tensors.map((t) => t.shape);
      if (!sameShapes(actual, expected)) {
        const paired = sourceName === layer.name ? '' : ` (paired by order with '${sourceName}')`;
        throw new UserError(`weights ${source}, layer '${layer.name}'${paired}: shapes ${shapesText(actual)} do not fit the model's ${shapesText(expected)}`);
      }
    }
    for (const layer of weighted) layer.setWeights(layers.get(pairs.get(layer.name)!)!);
  } finally {
    disposeLayerWeights(layers);
  }
}
