import type * as tf from '@tensorflow/tfjs';
import { UserError } from '@flowers/core';
import type { HeadKind, TrainConfig } from '../config.ts';
import { buildDenseHead } from './dense_head.ts';
import { buildFinetuneModel } from './finetune.ts';
import { buildScratchCnn, SCRATCH_CNN_MIN_SIZE } from './scratch_cnn.ts';

export { buildScratchCnn, SCRATCH_CNN_MIN_SIZE } from './scratch_cnn.ts';
export { applyHead, buildDenseHead, type DenseHeadKind, type HeadOptions } from './dense_head.ts';
export { buildFinetuneModel, FINETUNE_BN_MOMENTUM } from './finetune.ts';
export { setDropoutSeeds } from './init.ts';

/** The smallest image side a head can take (only the scratch CNN looks at pixels itself). */
export function minInputSize(head: HeadKind): number {
  return head === 'scratch_cnn' ? SCRATCH_CNN_MIN_SIZE : 1;
}

export interface ClassifierInput {
  /** Shape of one input row: [size, size, 3] for pixels, the feature or cut-activation shape otherwise. */
  inputShape: readonly number[];
  numClasses: number;
  /** The pretrained top of the base, for input 'cut'. */
  baseTop?: tf.LayersModel;
}

/** The model `config` asks for, with freshly seeded weights. */
export function buildClassifier(config: TrainConfig, { inputShape, numClasses, baseTop }: ClassifierInput): tf.LayersModel {
  const options = { numClasses, dropout: config.dropout, seed: config.seed };
  if (config.head === 'scratch_cnn') {
    const [size, width, channels] = inputShape;
    if (inputShape.length !== 3 || size !== width || channels !== 3) {
      throw new UserError(`--head scratch_cnn needs square RGB images, got input shape [${inputShape.join(', ')}]`);
    }
    if (size! < SCRATCH_CNN_MIN_SIZE) throw new UserError(`--size must be at least ${SCRATCH_CNN_MIN_SIZE} for --head scratch_cnn, got ${size}`);
    return buildScratchCnn({ inputSize: size!, ...options });
  }
  if (config.input === 'cut') {
    if (!baseTop) throw new Error('input "cut" needs the top of the base model to fine-tune');
    return buildFinetuneModel(baseTop, config.head, options, { freezeBatchNorm: config.freezeBatchNorm });
  }
  return buildDenseHead(config.head, inputShape, options);
}
