import * as tf from '@tensorflow/tfjs';
import { applyHead, type DenseHeadKind, type HeadOptions } from './dense_head.ts';

/** Batch-norm moving-average momentum while fine-tuning (Keras uses 0.99; small batches adapt faster at 0.9). */
export const FINETUNE_BN_MOMENTUM = 0.9;

function eachLayer(model: tf.LayersModel, visit: (layer: tf.layers.Layer) => void): void {
  for (const layer of model.layers) {
    if (layer instanceof tf.LayersModel) eachLayer(layer, visit);
    else visit(layer);
  }
}

/**
 * The top of a pretrained base (input: cached activations at the cut layer; output: the base
 * output), made trainable with batch-norm momentum 0.9, with a classifier head stacked on it.
 */
export function buildFinetuneModel(baseTop: tf.LayersModel, kind: DenseHeadKind, options: HeadOptions): tf.LayersModel {
  baseTop.trainable = true;
  eachLayer(baseTop, (layer) => {
    layer.trainable = true;
    if (layer.getClassName() === 'BatchNormalization') (layer as unknown as { momentum: number }).momentum = FINETUNE_BN_MOMENTUM;
  });
  const input = tf.input({ name: 'cut_activations', shape: baseTop.inputs[0]!.shape.slice(1) as number[] });
  const features = baseTop.apply(input) as tf.SymbolicTensor;
  return tf.model({ name: `finetune_${kind}`, inputs: input, outputs: applyHead(kind, features, options) });
}
