import type { ConvertContext, LayerConverter } from './converter.ts';
import { unsupported } from './converter.ts';

export type ActivationName = 'relu' | 'relu6' | 'linear';

/** relu as Relu, relu6 as Clip(0, 6): ONNX Runtime fuses both into a preceding Conv. */
export function writeActivation({ graph, layer }: Pick<ConvertContext, 'graph' | 'layer'>, input: string, activation: ActivationName): string {
  if (activation === 'linear') return input;
  if (activation === 'relu') return graph.node('Relu', [input], {}, layer.name);
  return graph.node('Clip', [input, graph.scalar(`${layer.name}/min`, 0), graph.scalar(`${layer.name}/max`, 6)], {}, layer.name);
}

/** Keras `Activation`: the activations the bases use. */
export const convertActivation: LayerConverter = (context) => {
  const activation = context.config.activation;
  if (activation !== 'relu' && activation !== 'linear') throw unsupported(context.layer, `has activation '${String(activation)}', which the exporter does not handle`);
  return writeActivation(context, context.inputs[0]!, activation);
};

/** Keras `ReLU`, with or without a ceiling of 6. */
export const convertReLU: LayerConverter = (context) => {
  const { maxValue } = context.config;
  if (maxValue != null && maxValue !== 6) throw unsupported(context.layer, `has max_value ${String(maxValue)}; only none and 6 are handled`);
  return writeActivation(context, context.inputs[0]!, maxValue == null ? 'relu' : 'relu6');
};
