import type { Value } from '../tape.ts';
import { unsupported, type LayerWriter } from './layer.ts';

/**
 * Dropout as a product with a mask that the trainer draws for every step (0, or 1 / (1 - rate)
 * to keep the expected sum, as tfjs does), so masks come from the run's seed. Gone at inference.
 */
export const writeDropout: LayerWriter = ({ tape, graph, layer, training, dropoutMask }, [input]) => {
  if (!training) return input;
  if (input.layout !== 'flat') throw unsupported(layer, 'drops from a spatial map; only flat rows are handled');
  const mask = dropoutMask(input.shape);
  const y: Value = { ...input, name: graph.node('Mul', [input.name, mask], {}, layer.name) };
  tape.record(y, (dy) => tape.setGradient(input, graph.node('Mul', [dy, mask], {}, `${layer.name}/grad`)));
  return y;
};
