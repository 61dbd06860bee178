import * as tf from '@tensorflow/tfjs';
import { seededDense, seededKernel, stepSeededDropout } from './init.ts';

const FILTERS = [32, 64, 128, 128] as const;

/** Smallest image side the four valid 3x3 convolutions + 2x2 poolings leave at least 1x1 of. */
export const SCRATCH_CNN_MIN_SIZE = FILTERS.reduce((side) => 2 * side + 2, 1);

/**
 * The Keras "CNN basics" small convnet: four (Conv2D 3x3 ReLU valid, MaxPool 2x2) blocks with
 * 32, 64, 128, 128 filters, Flatten, [Dropout], Dense 512 ReLU, Dense softmax.
 */
export function buildScratchCnn({ inputSize, numClasses, dropout, seed }: { inputSize: number; numClasses: number; dropout: number; seed: number }): tf.Sequential {
  const model = tf.sequential({ name: 'scratch_cnn' });
  FILTERS.forEach((filters, i) => {
    const name = `conv${i + 1}_${filters}`;
    model.add(
      tf.layers.conv2d({
        name,
        filters,
        kernelSize: 3,
        activation: 'relu',
        padding: 'valid',
        kernelInitializer: seededKernel(seed, name),
        ...(i === 0 ? { inputShape: [inputSize, inputSize, 3] } : {}),
      }),
    );
    model.add(tf.layers.maxPooling2d({ name: `maxpool${i + 1}`, poolSize: 2 }));
  });
  model.add(tf.layers.flatten({ name: 'flatten' }));
  if (dropout > 0) model.add(stepSeededDropout('dropout', dropout));
  model.add(seededDense(seed, 'dense_512', 512, 'relu'));
  model.add(seededDense(seed, 'predictions', numClasses, 'softmax'));
  return model;
}
