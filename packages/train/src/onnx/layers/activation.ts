import { activationOf, type LayerWriter } from './layer.ts';

/**
 * Activation: its ReLU is left pending (see Value.pending), so a max pooling after it pools first
 * and a value that several layers read is rectified once; a softmax ends the model for the loss.
 */
export const writeActivation: LayerWriter = (context, [input]) => {
  const activation = activationOf(context);
  return activation === 'linear' ? input : { ...input, pending: activation };
};
