import * as tf from '@tensorflow/tfjs';
import { seedFrom } from '@flowers/core';

/** Seeded Glorot-uniform kernels (the Keras default), one stream per layer: same seed, same model. */
export function seededKernel(seed: number, layerName: string): ReturnType<typeof tf.initializers.glorotUniform> {
  return tf.initializers.glorotUniform({ seed: seedFrom(seed, 'kernel', layerName) });
}

/** A Dense layer named `name` with a seeded kernel. */
export function seededDense(seed: number, name: string, units: number, activation: 'relu' | 'softmax'): tf.layers.Layer {
  return tf.layers.dense({ name, units, activation, kernelInitializer: seededKernel(seed, name) });
}

/**
 * A Dropout layer. Its mask seed is set before every training step from (seed, epoch, step), see
 * `setDropoutSeeds`, so training is reproducible and a resumed run matches an uninterrupted one.
 */
export function stepSeededDropout(name: string, rate: number): tf.layers.Layer {
  return tf.layers.dropout({ name, rate, seed: 0 });
}

/** Points every Dropout layer of `model` (nested models included) at this step's mask stream. */
export function setDropoutSeeds(model: tf.LayersModel, ...parts: Array<string | number>): void {
  const visit = (layers: tf.layers.Layer[]): void => {
    for (const layer of layers) {
      if (layer instanceof tf.LayersModel) visit(layer.layers);
      // tfjs keeps the seed on the layer and passes it to tf.dropout on every call.
      else if (layer.getClassName() === 'Dropout') (layer as unknown as { seed: number }).seed = seedFrom(...parts, layer.name);
    }
  };
  visit(model.layers);
}
