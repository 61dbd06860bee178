import type { Value } from '../tape.ts';
import type { LayerWriter } from './layer.ts';

/**
 * The ReLU layer: without a maximum, a ReLU left pending (see Value.pending); with one
 * (MobileNetV2's ReLU6), min(max(z, 0), max). Its gradient is tfjs': a ReLU's (z > 0) times
 * clipByValue's, which passes dY up to the maximum inclusive.
 */
export const writeReLU: LayerWriter = ({ tape, graph, layer, config }, [input]) => {
  const maxValue = config.maxValue as number | null | undefined;
  if (maxValue === null || maxValue === undefined) return { ...input, pending: 'relu' };
  const hint = layer.name;
  const zero = graph.scalar(`${hint}/zero`, 0);
  const max = graph.scalar(`${hint}/max`, maxValue);
  const y: Value = { ...input, name: graph.node('Clip', [input.name, zero, max], {}, hint) };
  tape.record(y, (dy) => {
    const inside = graph.node('And', [graph.node('Greater', [input.name, zero], {}, `${hint}/grad`), graph.node('LessOrEqual', [input.name, max], {}, `${hint}/grad`)], {}, `${hint}/grad`);
    tape.setGradient(input, graph.node('Where', [inside, dy, zero], {}, `${hint}/grad`));
  });
  return y;
};
