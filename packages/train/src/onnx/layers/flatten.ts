import { toLayout, type Value } from '../tape.ts';
import type { LayerWriter } from './layer.ts';

/** Flatten in TensorFlow.js' order (height, width, channels), so a Dense kernel after it keeps its layout. */
export const writeFlatten: LayerWriter = ({ tape, graph, layer }, [input]) => {
  if (input.layout === 'flat') return input;
  const x = toLayout(tape, input, 'nhwc', `${layer.name}/nhwc`);
  const y: Value = { name: graph.node('Flatten', [x.name], { axis: 1 }, layer.name), layout: 'flat', shape: [x.shape.reduce((a, b) => a * b, 1)], needsGradient: x.needsGradient };
  tape.record(y, (dy) => tape.setGradient(x, graph.node('Reshape', [dy, graph.node('Shape', [x.name], {}, `${layer.name}/grad`)], {}, `${layer.name}/grad`)));
  return y;
};
