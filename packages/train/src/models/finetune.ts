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

/** The parts of tfjs-layers' BatchNormalization that a layer built with `scale: false` lacks. */
interface ScalelessBatchNorm {
  name: string;
  scale: boolean;
  gamma?: { write(value: tf.Tensor): unknown };
  axis: number;
  getWeights(): tf.Tensor[];
  addWeight(name: string, shape: number[], dtype: undefined, initializer: ReturnType<typeof tf.initializers.ones>, regularizer: undefined, trainable: boolean): { write(value: tf.Tensor): unknown };
}

/**
 * tfjs-layers 4.22 reads gamma unconditionally in training mode, and its gradient saves it in
 * inference mode too, so a batch norm built with `scale: false` (all of InceptionV3's) throws there. A constant, non-trainable gamma of ones is
 * exactly what `scale: false` means, so add one.
 */
function giveFixedScale(layer: ScalelessBatchNorm): void {
  if (layer.scale || layer.gamma) return;
  const channels = layer.getWeights()[0]!.shape.at(-1)!;
  // Named as build() would name it inside the layer's scope, so saved models load back.
  const gamma = layer.addWeight(`${layer.name}/gamma`, [channels], undefined, tf.initializers.ones(), undefined, false);
  // A layer of a loaded model initialises new weights to zeros (tfjs' fastWeightInitDuringBuild,
  // since loading overwrites them), whatever the initializer: a gamma of zeros would make every
  // batch norm output its beta. Write the ones explicitly.
  const ones = tf.ones([channels]);
  gamma.write(ones);
  ones.dispose();
  layer.gamma = gamma;
  layer.scale = true;
}

/**
 * A batch norm that runs in inference mode even in a training step, with gamma and beta frozen:
 * what Keras does with a non-trainable BatchNormalization (tfjs-layers would still normalise by
 * the batch's statistics). The onnx engine writes a non-trainable batch norm the same way.
 */
function freezeBatchNorm(layer: tf.layers.Layer): void {
  layer.trainable = false;
  const call = layer.call.bind(layer);
  layer.call = (inputs, kwargs) => call(inputs, { ...kwargs, training: false });
}

/**
 * The top of a pretrained base (input: cached activations at the cut layer; output: the base
 * output), made trainable with batch-norm momentum 0.9 (or its batch norms frozen), with a
 * classifier head stacked on it.
 */
export function buildFinetuneModel(baseTop: tf.LayersModel, kind: DenseHeadKind, options: HeadOptions, { freezeBatchNorm: frozen = false } = {}): tf.LayersModel {
  baseTop.trainable = true;
  eachLayer(baseTop, (layer) => {
    layer.trainable = true;
    if (layer.getClassName() !== 'BatchNormalization') return;
    // tfjs' batch norm gradient needs a gamma in either mode.
    giveFixedScale(layer as unknown as ScalelessBatchNorm);
    if (frozen) freezeBatchNorm(layer);
    else (layer as unknown as { momentum: number }).momentum = FINETUNE_BN_MOMENTUM;
  });
  const input = tf.input({ name: 'cut_activations', shape: baseTop.inputs[0]!.shape.slice(1) as number[] });
  const features = baseTop.apply(input) as tf.SymbolicTensor;
  return tf.model({ name: `finetune_${kind}`, inputs: input, outputs: applyHead(kind, features, options) });
}
