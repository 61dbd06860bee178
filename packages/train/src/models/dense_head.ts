import * as tf from '@tensorflow/tfjs';
import type { HeadKind } from '../config.ts';
import { seededDense, stepSeededDropout } from './init.ts';

export type DenseHeadKind = Exclude<HeadKind, 'scratch_cnn'>;

export interface HeadOptions {
  numClasses: number;
  dropout: number;
  seed: number;
}

/** Hidden units of the 'gap_dense' head. */
const GAP_DENSE_UNITS = 128;

/**
 * Stacks a classifier head on `features` (a base model's output, flat or a spatial map):
 * - dense512: Flatten, Dense 512 ReLU, Dropout, Dense softmax (frozen-features experiment);
 * - dropout_dense64: Flatten, Dropout, Dense 64 ReLU, Dense softmax (augmented-features experiment);
 * - gap_linear: global average pooling of a map, Dropout, Dense softmax;
 * - gap_dense: global average pooling of a map, Dropout, Dense 128 ReLU, Dropout, Dense softmax.
 * Dropout layers with rate 0 are left out.
 */
export function applyHead(kind: DenseHeadKind, features: tf.SymbolicTensor, { numClasses, dropout, seed }: HeadOptions): tf.SymbolicTensor {
  let x = features;
  const add = (layer: tf.layers.Layer): void => {
    x = layer.apply(x) as tf.SymbolicTensor;
  };
  const addDropout = (name: string): void => {
    if (dropout > 0) add(stepSeededDropout(name, dropout));
  };
  const spatial = features.shape.length > 2;
  if (kind === 'dense512' || kind === 'dropout_dense64') {
    if (spatial) add(tf.layers.flatten({ name: 'flatten' }));
  } else if (spatial) {
    add(tf.layers.globalAveragePooling2d({ name: 'global_average_pool' }));
  }
  if (kind === 'dense512') {
    add(seededDense(seed, 'dense_512', 512, 'relu'));
    addDropout('dropout');
  } else if (kind === 'dropout_dense64') {
    addDropout('dropout');
    add(seededDense(seed, 'dense_64', 64, 'relu'));
  } else if (kind === 'gap_linear') {
    addDropout('dropout');
  } else {
    addDropout('dropout_features');
    add(seededDense(seed, `dense_${GAP_DENSE_UNITS}`, GAP_DENSE_UNITS, 'relu'));
    addDropout('dropout_hidden');
  }
  add(seededDense(seed, 'predictions', numClasses, 'softmax'));
  return x;
}

/** A head alone, on cached features of `featureShape` (e.g. [2048] or [3, 3, 2048]). */
export function buildDenseHead(kind: DenseHeadKind, featureShape: readonly number[], options: HeadOptions): tf.LayersModel {
  const input = tf.input({ name: 'features', shape: [...featureShape] });
  return tf.model({ name: kind, inputs: input, outputs: applyHead(kind, input, options) });
}
