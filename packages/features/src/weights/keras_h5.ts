import { open } from 'node:fs/promises';
import type { Group } from 'h5wasm/node';
import * as tf from '@tensorflow/tfjs';
import { UserError } from '@flowers/core';
import { disposeLayerWeights, type LayerWeights } from './layer_weights.ts';

const HDF5_SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Checked before h5wasm opens the file: it reports failures only as HDF5 diagnostics on stderr. */
async function checkHdf5Signature(file: string): Promise<void> {
  let head: Buffer;
  try {
    const handle = await open(file, 'r');
    try {
      ({ buffer: head } = await handle.read(Buffer.alloc(HDF5_SIGNATURE.length), 0, HDF5_SIGNATURE.length, 0));
    } finally {
      await handle.close();
    }
  } catch (error) {
    throw new UserError(`cannot read Keras weights file ${file} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  if (!head.equals(HDF5_SIGNATURE)) throw new UserError(`${file} is not an HDF5 file (a Keras .h5 weights file was expected)`);
}

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
  await checkHdf5Signature(file);
  // Imported on first use: loading h5wasm takes ~600 MB of memory, which runs without .h5 files should not pay.
  const { default: h5wasm } = await import('h5wasm/node');
  await h5wasm.ready;
  const h5 = new h5wasm.File(file, 'r');
  if (h5.file_id < 0n) throw new UserError(`cannot open HDF5 file ${file}`);
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
