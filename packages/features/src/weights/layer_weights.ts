import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs';

/** Pretrained weights by Keras layer name, each layer's arrays in Keras weight order. */
export type LayerWeights = Map<string, tf.Tensor[]>;

// Keras creates a layer's weights in this order (Conv: kernel, bias; BN: gamma, beta,
// moving_mean, moving_variance); TF.js manifests may list them sorted by name instead.
const KERAS_WEIGHT_ORDER = ['kernel', 'depthwise_kernel', 'pointwise_kernel', 'bias', 'gamma', 'beta', 'moving_mean', 'moving_variance'];

function weightRank(weightName: string): number {
  const rank = KERAS_WEIGHT_ORDER.indexOf(weightName);
  return rank === -1 ? KERAS_WEIGHT_ORDER.length : rank;
}

/**
 * Groups named weights (`<layer>/<weight>`, optionally with a TF `:0` suffix) by layer, each
 * layer's arrays sorted into Keras order (a stable sort, so unknown names keep their order).
 */
export function groupByLayer(named: Iterable<[string, tf.Tensor]>): LayerWeights {
  const byLayer = new Map<string, Array<{ weight: string; tensor: tf.Tensor }>>();
  for (const [fullName, tensor] of named) {
    const name = fullName.replace(/:\d+$/, '');
    const slash = name.lastIndexOf('/');
    const layer = slash === -1 ? name : name.slice(0, slash);
    const entries = byLayer.get(layer) ?? [];
    entries.push({ weight: name.slice(slash + 1), tensor });
    byLayer.set(layer, entries);
  }
  return new Map(
    [...byLayer].map(([layer, entries]) => [
      layer,
      entries.sort((a, b) => weightRank(a.weight) - weightRank(b.weight)).map((e) => e.tensor),
    ]),
  );
}

export function disposeLayerWeights(layers: LayerWeights): void {
  for (const tensors of layers.values()) tf.dispose(tensors);
}

/**
 * SHA-256 of the weights themselves (layer names, shapes, float values), so it identifies the
 * weights a model was given whichever file or format they came from.
 */
export function digestLayerWeights(layers: LayerWeights): string {
  const hash = createHash('sha256');
  for (const layer of [...layers.keys()].sort()) {
    for (const tensor of layers.get(layer)!) {
      hash.update(`${layer}\0${tensor.dtype}\0${tensor.shape.join('x')}\0`);
      const values = tensor.dataSync();
      hash.update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
    }
  }
  return hash.digest('hex');
}
