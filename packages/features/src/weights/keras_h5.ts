import { access } from 'node:fs/promises';
import h5wasm, { type Group } from 'h5wasm/node';
import * as tf from '@tensorflow/tfjs';
import { UserError } from '@flowers/core';
import { disposeLayerWeights, type LayerWeights } from './layer_weights.ts';

function stringList(group: Group, attribute: string): string[] | undefined {
  const value = group.attrs[attribute]?.value;
  if (value === undefined || value === null) return undefined;
  return (Array.isArray(value) ? value : [value]).map(String);
}

function toFloat32(value: unknown): Float32Array | undefined {
  if (value instanceof Float32Array) return value;
  if (value instanceof Float64Array) return Float32Array.from(value);
  return undefined;
}

/**
 * Reads a Keras 2 (HDF5) weights file: `model.save_weights` layout (root attribute
 * `layer_names`, one group per layer with attribute `weight_names`), or the same under
 * `model_weights/` in a full `model.save` file. Layers without weights are skipped.
 */
export async function readKerasH5Weights(file: string): Promise<LayerWeights> {
  try {
    await access(file);
  } catch (error) {
    throw new UserError(`cannot read Keras weights file ${file} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  await h5wasm.ready;
  let h5: InstanceType<typeof h5wasm.File>;
  try {
    h5 = new h5wasm.File(file, 'r');
  } catch (error) {
    throw new UserError(`${file} is not an HDF5 file (${error instanceof Error ? error.message : String(error)})`);
  }
  const layers: LayerWeights = new Map();
  try {
    const nested = h5.get('model_weights');
    const root = nested instanceof h5wasm.Group ? nested : h5;
    const layerNames = stringList(root, 'layer_names');
    if (layerNames === undefined) {
      throw new UserError(`${file} is not a Keras 2 weights file: no 'layer_names' attribute at ${root.path}`);
    }
    for (const layerName of layerNames) {
      const group = root.get(layerName);
      if (!(group instanceof h5wasm.Group)) throw new UserError(`${file}: layer '${layerName}' is listed but has no group`);
      const tensors: tf.Tensor[] = [];
      layers.set(layerName, tensors);
      for (const weightName of stringList(group, 'weight_names') ?? []) {
        const dataset = group.get(weightName);
        const values = dataset instanceof h5wasm.Dataset ? toFloat32(dataset.value) : undefined;
        if (values === undefined || !(dataset instanceof h5wasm.Dataset)) {
          throw new UserError(`${file}: weight '${weightName}' of layer '${layerName}' is missing or not float32/float64`);
        }
        tensors.push(tf.tensor(values, dataset.shape ?? []));
      }
      if (tensors.length === 0) layers.delete(layerName);
    }
    return layers;
  } catch (error) {
    disposeLayerWeights(layers);
    throw error;
  } finally {
    h5.close();
  }
}
