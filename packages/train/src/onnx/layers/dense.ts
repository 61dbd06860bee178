import { relu, type Value } from '../tape.ts';
import { activationOf, unsupported, type LayerWriter } from './layer.ts';

/**
 * Dense on flat rows: x W + b, kernel [in, out] as in TensorFlow.js. With a softmax it returns the
 * logits with the softmax pending: the model's output, whose gradient the loss writes directly.
 */
export const writeDense: LayerWriter = (context, [input]) => {
  const { tape, graph, layer, config } = context;
  const kernel = context.weight('kernel')!;
  if (input.layout !== 'flat') throw unsupported(layer, 'reads a spatial map; only flat rows are handled');
  const units = config.units as number;
  const hasBias = config.useBias !== false;
  const z: Value = {
    name: graph.node('Gemm', [input.name, kernel, ...(hasBias ? [context.weight('bias')!] : [])], {}, layer.name),
    layout: 'flat',
    shape: [units],
    needsGradient: true,
  };
  tape.record(z, (dz) => {
    const hint = `${layer.name}/grad`;
    context.setWeightGradient('kernel', () => graph.node('Gemm', [input.name, dz], { transA: 1 }, `${hint}/kernel`));
    if (hasBias) context.setWeightGradient('bias', () => graph.node('ReduceSum', [dz, graph.ints(`${hint}/axes`, [0])], { keepdims: 0 }, `${hint}/bias`));
    if (input.needsGradient) tape.setGradient(input, graph.node('Gemm', [dz, kernel], { transB: 1 }, `${hint}/input`));
  });
  const activation = activationOf(context);
  if (activation === 'softmax') return { ...z, pending: 'softmax' };
  return activation === 'relu' ? relu(tape, z, `${layer.name}/relu`) : z;
};
